// Package media recognises video files by their bytes, takes cover frames
// from them with ffmpeg, and provides the default images and a sample clip.
package media

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Kind is a recognised container: the Content-Type to store it with and the
// file extension to give its key.
type Kind struct {
	ContentType string
	Ext         string
}

// SniffLen is how many leading bytes Sniff looks at. Pass at least this many
// (or the whole file when it is shorter); later bytes are ignored.
const SniffLen = 512

// Container kinds Sniff reports. They are returned by value from functions,
// so no caller can change them.
func kindMP4() Kind  { return Kind{ContentType: "video/mp4", Ext: ".mp4"} }
func kindMOV() Kind  { return Kind{ContentType: "video/quicktime", Ext: ".mov"} }
func kind3GP() Kind  { return Kind{ContentType: "video/3gpp", Ext: ".3gp"} }
func kind3G2() Kind  { return Kind{ContentType: "video/3gpp2", Ext: ".3g2"} }
func kindWebM() Kind { return Kind{ContentType: "video/webm", Ext: ".webm"} }
func kindMKV() Kind  { return Kind{ContentType: "video/x-matroska", Ext: ".mkv"} }
func kindAVI() Kind  { return Kind{ContentType: "video/x-msvideo", Ext: ".avi"} }
func kindFLV() Kind  { return Kind{ContentType: "video/x-flv", Ext: ".flv"} }
func kindTS() Kind   { return Kind{ContentType: "video/mp2t", Ext: ".ts"} }
func kindMPEG() Kind { return Kind{ContentType: "video/mpeg", Ext: ".mpg"} }

// Sniff tells whether head, the first bytes of a file, starts a video
// container, and which. It judges bytes only: ISO BMFF (MP4, M4V, 3GP) with a
// video brand, QuickTime MOV, WebM and Matroska, AVI, FLV with a video flag,
// MPEG transport and program streams. Audio-only MP4 (M4A), HEIF/AVIF
// images, other images, text and random bytes are rejected. WebM and
// Matroska cannot declare audio-only in their header, so such files pass.
func Sniff(head []byte) (Kind, bool) {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	switch {
	case len(head) >= 4 && bytes.Equal(head[:4], []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return sniffEBML(head)
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "AVI ":
		return kindAVI(), true
	case isFLV(head):
		return kindFLV(), true
	case isMPEGPS(head):
		return kindMPEG(), true
	case isMPEGTS(head, 0, 188) || isMPEGTS(head, 4, 192):
		return kindTS(), true
	}
	return sniffISO(head)
}

// isFLV checks the 9-byte FLV header: signature, version 1, no reserved
// flags, the video flag set, and a header length of at least 9.
func isFLV(h []byte) bool {
	if len(h) < 9 || string(h[:3]) != "FLV" || h[3] != 1 {
		return false
	}
	flags := h[4]
	return flags&0xFA == 0 && flags&0x01 != 0 && binary.BigEndian.Uint32(h[5:9]) >= 9
}

// isMPEGPS checks a pack header (00 00 01 BA) and its marker bits, for
// MPEG-2 and MPEG-1 program streams.
func isMPEGPS(h []byte) bool {
	if len(h) < 12 || !bytes.Equal(h[:4], []byte{0, 0, 1, 0xBA}) {
		return false
	}
	switch {
	case h[4]&0xC4 == 0x44: // MPEG-2
		return len(h) >= 14 && h[6]&0x04 != 0 && h[8]&0x04 != 0 && h[9]&0x01 != 0 && h[12]&0x03 == 0x03
	case h[4]&0xF1 == 0x21: // MPEG-1
		return h[6]&0x01 != 0 && h[8]&0x01 != 0 && h[9]&0x80 != 0 && h[11]&0x01 != 0
	}
	return false
}

// isMPEGTS checks the 0x47 sync byte at the start of consecutive packets of
// the given stride (188, or 192 for M2TS with its 4-byte time code): two
// packets at least, three when head is long enough.
func isMPEGTS(h []byte, first, stride int) bool {
	if len(h) < first+stride+1 {
		return false
	}
	for off := first; off < len(h) && off <= first+2*stride; off += stride {
		if h[off] != 0x47 {
			return false
		}
	}
	return true
}

// sniffEBML reads the EBML header and decides by its DocType.
func sniffEBML(h []byte) (Kind, bool) {
	p := 4
	size, n, ok := readVint(h[p:], true)
	if !ok {
		return Kind{}, false
	}
	p += n
	end := len(h)
	if size < uint64(end-p) {
		end = p + int(size)
	}
	for p < end {
		id, n, ok := readVint(h[p:], false)
		if !ok {
			return Kind{}, false
		}
		p += n
		sz, n, ok := readVint(h[p:], true)
		if !ok {
			return Kind{}, false
		}
		p += n
		if sz > uint64(end-p) {
			return Kind{}, false
		}
		if id == 0x4282 { // DocType
			switch strings.TrimRight(string(h[p:p+int(sz)]), "\x00") {
			case "webm":
				return kindWebM(), true
			case "matroska":
				return kindMKV(), true
			}
			return Kind{}, false
		}
		p += int(sz)
	}
	return Kind{}, false
}

// readVint decodes an EBML variable-length integer. Element IDs keep their
// length marker bit; sizes drop it.
func readVint(b []byte, stripMarker bool) (v uint64, n int, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if len(b) < n {
		return 0, 0, false
	}
	v = uint64(b[0])
	if stripMarker {
		v &= uint64(0xFF >> n)
	}
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, true
}

// sniffISO walks the top-level boxes (atoms) of an ISO BMFF or QuickTime
// file. An ftyp box decides by brand; a moov box must hold a known child;
// free, skip, wide and pnot boxes are skipped and must be followed by
// another known box within head.
func sniffISO(h []byte) (Kind, bool) {
	off := 0
	for boxes := 0; off+8 <= len(h); boxes++ {
		size := uint64(binary.BigEndian.Uint32(h[off:]))
		typ := string(h[off+4 : off+8])
		hdr := uint64(8)
		if size == 1 { // 64-bit size follows the type
			if off+16 > len(h) {
				return Kind{}, false
			}
			size = binary.BigEndian.Uint64(h[off+8:])
			hdr = 16
		}
		if size != 0 && size < hdr {
			return Kind{}, false
		}
		switch typ {
		case "ftyp":
			if hdr != 8 || size < 16 {
				return Kind{}, false
			}
			end := len(h)
			if size < uint64(end-off) {
				end = off + int(size)
			}
			return sniffBrands(h[off+8 : end])
		case "moov":
			child := off + int(hdr)
			if child+8 > len(h) || size == 0 {
				return Kind{}, false
			}
			switch string(h[child+4 : child+8]) {
			case "mvhd", "cmov", "rmra", "prfl", "iods", "trak", "udta", "meta":
				return kindMOV(), true
			}
			return Kind{}, false
		case "mdat":
			// An mdat opening the file is only plausible with a sane size; one
			// reached through a verified box chain is evidence enough.
			if boxes > 0 || size == 0 || hdr == 16 || size < 1<<29 {
				return kindMOV(), true
			}
			return Kind{}, false
		case "free", "skip", "wide", "pnot":
			if size == 0 || size > uint64(len(h)-off) {
				return Kind{}, false
			}
			off += int(size)
		default:
			return Kind{}, false
		}
	}
	return Kind{}, false
}

// sniffBrands decides on the payload of an ftyp box: major brand, minor
// version, then compatible brands.
func sniffBrands(p []byte) (Kind, bool) {
	if len(p) < 8 {
		return Kind{}, false
	}
	major := string(p[:4])
	if notVideoBrand(major) {
		return Kind{}, false
	}
	if k, ok := videoBrand(major); ok {
		return k, true
	}
	var found Kind
	ok := false
	for i := 8; i+4 <= len(p); i += 4 {
		b := string(p[i : i+4])
		if notVideoBrand(b) {
			return Kind{}, false
		}
		if k, isVideo := videoBrand(b); isVideo && !ok {
			found, ok = k, true
		}
	}
	return found, ok
}

// videoBrand maps ISO BMFF brands that announce video to their kind.
func videoBrand(b string) (Kind, bool) {
	switch {
	case b == "qt  ":
		return kindMOV(), true
	case strings.HasPrefix(b, "3g2"):
		return kind3G2(), true
	case strings.HasPrefix(b, "3gp"), strings.HasPrefix(b, "3gg"),
		strings.HasPrefix(b, "3ge"), strings.HasPrefix(b, "3gs"):
		return kind3GP(), true
	}
	switch b {
	case "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9",
		"mp41", "mp42", "mp71", "avc1", "av01", "M4V ", "M4VH", "M4VP",
		"dash", "mmp4", "msnv", "MSNV", "ndas", "f4v ", "XAVC", "cmfc", "MiSt":
		return kindMP4(), true
	}
	return Kind{}, false
}

// notVideoBrand lists brands of audio-only and still-image files that share
// the ISO BMFF container.
func notVideoBrand(b string) bool {
	switch b {
	case "M4A ", "M4B ", "M4P ", "F4A ", "F4B ", "dby1",
		"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1",
		"avif", "avis", "avio", "crx ", "jp2 ", "jpx ", "jpm ", "mjp2", "mj2s":
		return true
	}
	return false
}

// SniffType is Sniff in the shape the video service takes: the content
// type and file extension of head.
func SniffType(head []byte) (contentType, ext string, ok bool) {
	k, ok := Sniff(head)
	return k.ContentType, k.Ext, ok
}
