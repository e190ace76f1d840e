package media

import (
	"bytes"
	"image"
	_ "image/jpeg" // register the decoder
	_ "image/png"  // register the decoder
	"testing"
)

func TestDefaultImages(t *testing.T) {
	tests := []struct {
		name     string
		get      func() []byte
		format   string
		w, h     int
		maxBytes int
	}{
		{"cover", DefaultCover, "jpeg", CoverWidth, CoverHeight, 60 << 10},
		{"avatar", DefaultAvatar, "png", AvatarSize, AvatarSize, 20 << 10},
		{"background", DefaultBackground, "png", BackgroundWidth, BackgroundHeight, 40 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.get()
			img, format, err := image.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if format != tt.format {
				t.Errorf("format = %q, want %q", format, tt.format)
			}
			if got := img.Bounds().Size(); got.X != tt.w || got.Y != tt.h {
				t.Errorf("size = %v, want %dx%d", got, tt.w, tt.h)
			}
			if len(data) > tt.maxBytes {
				t.Errorf("%d bytes, want at most %d", len(data), tt.maxBytes)
			}
			// Not a flat fill: a picture has at least two colours.
			b := img.Bounds()
			if r1, g1, b1, _ := img.At(b.Min.X, b.Min.Y).RGBA(); func() bool {
				r2, g2, b2, _ := img.At(b.Max.X/2, b.Max.Y/2).RGBA()
				return r1 == r2 && g1 == g2 && b1 == b2
			}() {
				t.Errorf("corner and centre have the same colour")
			}
			// Each call gets its own copy.
			data[0] ^= 0xFF
			if again := tt.get(); again[0] == data[0] {
				t.Errorf("changing one result changed the next")
			}
		})
	}
}

func TestSampleVideo(t *testing.T) {
	data := SampleVideo()
	if len(data) == 0 || len(data) > 300<<10 {
		t.Fatalf("sample is %d bytes, want 1..300 KiB", len(data))
	}
	if k, ok := Sniff(data); !ok || k != kindMP4() {
		t.Fatalf("Sniff(sample) = %+v, %v; want %+v", k, ok, kindMP4())
	}
	data[0] ^= 0xFF
	if SampleVideo()[0] == data[0] {
		t.Fatal("changing one copy changed the next")
	}
}
