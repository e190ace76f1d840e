#!/bin/sh
# Regenerates sample.mp4: a 5 s portrait (360x640) H.264/AAC test clip made
# only from ffmpeg's built-in lavfi sources, so the project owns it and may
# redistribute it freely. Run from this directory: sh sample.sh
set -eu
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "testsrc2=size=360x640:rate=25:duration=5" \
	-f lavfi -i "sine=frequency=440:sample_rate=44100:duration=5" \
	-map 0:v -map 1:a \
	-c:v libx264 -preset slow -crf 32 -pix_fmt yuv420p -profile:v main -threads 1 \
	-c:a aac -b:a 48k -ac 1 \
	-movflags +faststart -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
	sample.mp4
