package media

import (
	_ "embed" // for the sample clip
)

// sampleMP4 is a 5 s 360x640 H.264/AAC clip (a moving gradient, shapes and
// a caption) made from ffmpeg's own sources, so the project may
// redistribute it. sample.sh holds the exact
// command that regenerates it.
//
//go:embed sample.mp4
var sampleMP4 string

// SampleVideo returns a fresh copy of the embedded sample clip, a valid
// upload for demos and tests.
func SampleVideo() []byte { return []byte(sampleMP4) }
