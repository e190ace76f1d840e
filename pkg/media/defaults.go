package media

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"sync"
)

// The default images are drawn once on first use; each call hands out a
// copy so no caller can alter what the next one gets.
var (
	defaultCover      = sync.OnceValue(func() []byte { return encodeJPEG(drawCover()) })
	defaultAvatar     = sync.OnceValue(func() []byte { return encodePNG(drawAvatar()) })
	defaultBackground = sync.OnceValue(func() []byte { return encodePNG(drawBackground()) })
)

// Sizes of the default images.
const (
	CoverWidth         = 540
	CoverHeight        = 960
	AvatarSize         = 256
	BackgroundWidth    = 1080
	BackgroundHeight   = 600
	defaultJPEGQuality = 85
)

// DefaultCover returns a 540x960 JPEG, a dark gradient with a play triangle,
// for videos whose cover could not be taken from a frame.
func DefaultCover() []byte { return bytes.Clone(defaultCover()) }

// DefaultAvatar returns a 256x256 PNG of a plain person silhouette.
func DefaultAvatar() []byte { return bytes.Clone(defaultAvatar()) }

// DefaultBackground returns a 1080x600 PNG gradient for profile headers.
func DefaultBackground() []byte { return bytes.Clone(defaultBackground()) }

// encodeJPEG and encodePNG write to memory, where encoding an image built
// here cannot fail; a failure would be a bug in this file, hence the panic.
func encodeJPEG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: defaultJPEGQuality}); err != nil {
		panic("media: encode default jpeg: " + err.Error())
	}
	return buf.Bytes()
}

func encodePNG(img image.Image) []byte {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		panic("media: encode default png: " + err.Error())
	}
	return buf.Bytes()
}

// lerp mixes a and b, t in [0, 1].
func lerp(a, b uint8, t float64) uint8 {
	return uint8(float64(a) + (float64(b)-float64(a))*t + 0.5)
}

func mix(a, b color.RGBA, t float64) color.RGBA {
	return color.RGBA{R: lerp(a.R, b.R, t), G: lerp(a.G, b.G, t), B: lerp(a.B, b.B, t), A: 0xFF}
}

// drawCover paints a vertical dark gradient with a translucent disc and a
// white play triangle in the middle.
func drawCover() image.Image {
	const w, h = CoverWidth, CoverHeight
	top := color.RGBA{R: 0x16, G: 0x18, B: 0x23, A: 0xFF}
	bottom := color.RGBA{R: 0x3A, G: 0x1C, B: 0x3F, A: 0xFF}
	white := color.RGBA{R: 0xF5, G: 0xF5, B: 0xF7, A: 0xFF}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy := float64(w)/2, float64(h)/2
	const radius = 90.0
	// Triangle pointing right, centred slightly right of the disc's centre
	// so it looks balanced.
	ax, ay := cx-30, cy-45
	bx, by := cx-30, cy+45
	tx, ty := cx+50, cy
	for y := range h {
		bg := mix(top, bottom, float64(y)/float64(h-1))
		for x := range w {
			px, py := float64(x)+0.5, float64(y)+0.5
			c := bg
			dx, dy := px-cx, py-cy
			if dx*dx+dy*dy <= radius*radius {
				c = mix(bg, white, 0.18)
			}
			if inTriangle(px, py, ax, ay, bx, by, tx, ty) {
				c = white
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// inTriangle tells whether p lies inside triangle abc, whatever its winding.
func inTriangle(px, py, ax, ay, bx, by, cx, cy float64) bool {
	side := func(x1, y1, x2, y2 float64) float64 { return (px-x2)*(y1-y2) - (x1-x2)*(py-y2) }
	d1 := side(ax, ay, bx, by)
	d2 := side(bx, by, cx, cy)
	d3 := side(cx, cy, ax, ay)
	neg := d1 < 0 || d2 < 0 || d3 < 0
	pos := d1 > 0 || d2 > 0 || d3 > 0
	return !(neg && pos)
}

// drawAvatar paints a head and shoulders on a soft background with a
// two-colour palette, which keeps the PNG tiny.
func drawAvatar() image.Image {
	const s = AvatarSize
	bg := color.RGBA{R: 0xD9, G: 0xDC, B: 0xE3, A: 0xFF}
	fg := color.RGBA{R: 0x8A, G: 0x91, B: 0xA0, A: 0xFF}
	img := image.NewPaletted(image.Rect(0, 0, s, s), color.Palette{bg, fg})
	const headX, headY, headR = 128.0, 100.0, 50.0
	const bodyX, bodyY, bodyRX, bodyRY = 128.0, 262.0, 100.0, 100.0
	for y := range s {
		for x := range s {
			px, py := float64(x)+0.5, float64(y)+0.5
			hx, hy := px-headX, py-headY
			bx, by := (px-bodyX)/bodyRX, (py-bodyY)/bodyRY
			if hx*hx+hy*hy <= headR*headR || bx*bx+by*by <= 1 {
				img.SetColorIndex(x, y, 1)
			}
		}
	}
	return img
}

// drawBackground paints a vertical gradient. Every row is one colour, which
// PNG compresses to almost nothing.
func drawBackground() image.Image {
	const w, h = BackgroundWidth, BackgroundHeight
	top := color.RGBA{R: 0x2B, G: 0x32, B: 0x4F, A: 0xFF}
	bottom := color.RGBA{R: 0xFE, G: 0x2C, B: 0x55, A: 0xFF}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		c := mix(top, bottom, float64(y)/float64(h-1))
		for x := range w {
			img.SetRGBA(x, y, c)
		}
	}
	return img
}
