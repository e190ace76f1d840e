package media

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ftyp builds an ISO BMFF ftyp box followed by the start of a moov box.
func ftyp(major string, compat ...string) []byte {
	var b bytes.Buffer
	size := 16 + 4*len(compat)
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(size)))
	b.WriteString("ftyp" + major)
	b.Write([]byte{0, 0, 2, 0})
	for _, c := range compat {
		b.WriteString(c)
	}
	b.Write([]byte{0, 0, 0, 0x6C})
	b.WriteString("moov")
	b.Write([]byte{0, 0, 0, 0x6C})
	b.WriteString("mvhd")
	return b.Bytes()
}

// atoms builds consecutive QuickTime atoms of the given types and declared
// sizes. Bodies are zero-filled, but only up to SniffLen bytes: the rest
// could never be looked at.
func atoms(list ...any) []byte {
	var b bytes.Buffer
	for i := 0; i < len(list); i += 2 {
		typ, size := list[i].(string), list[i+1].(int)
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(size)))
		b.WriteString(typ)
		if size > 8 {
			b.Write(make([]byte, min(size-8, SniffLen)))
		}
	}
	return b.Bytes()
}

// ebml builds an EBML header with the given DocType and a Segment start.
func ebml(docType string) []byte {
	body := []byte{
		0x42, 0x86, 0x81, 0x01, // EBMLVersion 1
		0x42, 0xF7, 0x81, 0x01, // EBMLReadVersion 1
		0x42, 0xF2, 0x81, 0x04, // EBMLMaxIDLength 4
		0x42, 0xF3, 0x81, 0x08, // EBMLMaxSizeLength 8
		0x42, 0x82, 0x80 | byte(len(docType)),
	}
	body = append(body, docType...)
	body = append(body, 0x42, 0x87, 0x81, 0x04, 0x42, 0x85, 0x81, 0x02)
	out := []byte{0x1A, 0x45, 0xDF, 0xA3, 0x80 | byte(len(body))}
	out = append(out, body...)
	return append(out, 0x18, 0x53, 0x80, 0x67, 0x01, 0, 0, 0, 0, 0, 0x10, 0)
}

// tsPackets builds n transport stream packets of the given size, each
// starting with prefix bytes (an M2TS time code) and the 0x47 sync byte.
func tsPackets(n, prefix int) []byte {
	var b []byte
	for range n {
		b = append(b, make([]byte, prefix)...)
		pkt := bytes.Repeat([]byte{0xFF}, 188)
		pkt[0], pkt[1], pkt[2], pkt[3] = 0x47, 0x40, 0x00, 0x10
		b = append(b, pkt...)
	}
	return b
}

func withBytes(b []byte, at int, vals ...byte) []byte {
	out := bytes.Clone(b)
	copy(out[at:], vals)
	return out
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

type sniffCase struct {
	name string
	data []byte
	want Kind // zero Kind: not a video
}

func sniffCases() []sniffCase {
	mp4, mov := kindMP4(), kindMOV()
	avi := append([]byte("RIFF\x24\x10\x00\x00AVI LIST\x0e\x01\x00\x00hdrlavih"), make([]byte, 56)...)
	return []sniffCase{
		{"sample.mp4", []byte(sampleMP4[:SniffLen]), mp4},
		{"mp4 isom", ftyp("isom", "isom", "iso2", "avc1", "mp41"), mp4},
		{"mp4 mp42", ftyp("mp42", "mp42", "isom"), mp4},
		{"mp4 iso5 dash", ftyp("iso5", "iso6", "dash"), mp4},
		{"m4v", ftyp("M4V ", "M4V ", "M4A ", "mp42", "isom"), mp4},
		{"unknown major, video compat", ftyp("XYZW", "mp41"), mp4},
		{"3gp", ftyp("3gp4", "isom", "3gp4"), kind3GP()},
		{"3gp5", ftyp("3gp5", "3gp5"), kind3GP()},
		{"3g2", ftyp("3g2a", "3g2a"), kind3G2()},
		{"quicktime ftyp", ftyp("qt  ", "qt  "), mov},
		{"quicktime moov cut short", atoms("moov", 0x6C)[:8], Kind{}},
		{"quicktime moov mvhd", append(atoms("moov", 8), atoms("mvhd", 0x6C)...), mov},
		{"quicktime wide mdat", atoms("wide", 8, "mdat", 0x1000), mov},
		{"quicktime free moov", append(atoms("free", 16, "moov", 8), atoms("mvhd", 0x6C)...), mov},
		{"quicktime mdat first", atoms("mdat", 0x20000), mov},
		{"free then ftyp", append(atoms("free", 8), ftyp("isom", "isom")...), mp4},
		{"webm", ebml("webm"), kindWebM()},
		{"matroska", ebml("matroska"), kindMKV()},
		{"avi", avi, kindAVI()},
		{"flv audio+video", []byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"), kindFLV()},
		{"flv video", []byte("FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00"), kindFLV()},
		{"mpeg-ts", tsPackets(3, 0), kindTS()},
		{"mpeg-ts two packets", tsPackets(2, 0)[:189], kindTS()},
		{"m2ts", tsPackets(3, 4), kindTS()},
		{"mpeg-2 ps", []byte{0, 0, 1, 0xBA, 0x44, 0, 0x04, 0, 0x04, 0x01, 0x01, 0x89, 0xC3, 0xF8, 0, 0, 1, 0xBB}, kindMPEG()},
		{"mpeg-1 ps", []byte{0, 0, 1, 0xBA, 0x21, 0, 0x01, 0, 0x01, 0x80, 0x1B, 0x91, 0, 0, 1, 0xBB}, kindMPEG()},

		{"empty", nil, Kind{}},
		{"short", []byte{0, 0, 0}, Kind{}},
		{"ftyp cut short", ftyp("isom")[:11], Kind{}},
		{"text", []byte("hello"), Kind{}},
		{"text with free at offset 4", []byte("Get free stuff now, only today, limited offer for everybody!"), Kind{}},
		{"text with moov", []byte("see moov later"), Kind{}},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00"), Kind{}},
		{"jpeg", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"), Kind{}},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"), Kind{}},
		{"pdf", []byte("%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"), Kind{}},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), Kind{}},
		{"m4a", ftyp("M4A ", "M4A ", "mp42", "isom"), Kind{}},
		{"m4a minor brand first", ftyp("XYZW", "M4A ", "isom"), Kind{}},
		{"heic", ftyp("heic", "mif1", "heic"), Kind{}},
		{"avif", ftyp("avif", "avif", "mif1", "miaf"), Kind{}},
		{"ftyp unknown brands", ftyp("abcd", "efgh"), Kind{}},
		{"wav", []byte("RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00"), Kind{}},
		{"ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), Kind{}},
		{"mp3", []byte("ID3\x03\x00\x00\x00\x00\x0f\x76TIT2"), Kind{}},
		{"flv audio only", []byte("FLV\x01\x04\x00\x00\x00\x09\x00\x00\x00\x00"), Kind{}},
		{"flv bad header size", []byte("FLV\x01\x05\x00\x00\x00\x03"), Kind{}},
		{"ebml other doctype", ebml("foo"), Kind{}},
		{"ebml cut short", ebml("webm")[:12], Kind{}},
		{"ts one sync", withBytes(tsPackets(3, 0), 188, 0x00), Kind{}},
		{"ts third sync wrong", withBytes(tsPackets(3, 0), 376, 0x00), Kind{}},
		{"ts single packet", tsPackets(1, 0), Kind{}},
		{"ps bad markers", []byte{0, 0, 1, 0xBA, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Kind{}},
		{"moov unknown child", append(atoms("moov", 8), atoms("zzzz", 16)...), Kind{}},
		{"huge mdat first", atoms("mdat", 0x7FFFFFF0)[:8], Kind{}},
		{"free pointing past head", atoms("free", 0x10000)[:8], Kind{}},
		{"box size below header", []byte{0, 0, 0, 4, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 0, 0}, Kind{}},
		{"random", randomBytes(1, SniffLen), Kind{}},
		{"random 2", randomBytes(2, SniffLen), Kind{}},
		{"zeros", make([]byte, SniffLen), Kind{}},
		{"default cover", DefaultCover(), Kind{}},
		{"default avatar", DefaultAvatar(), Kind{}},
	}
}

func TestSniff(t *testing.T) {
	for _, tt := range sniffCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Sniff(tt.data)
			if wantOK := tt.want != (Kind{}); ok != wantOK || got != tt.want {
				t.Fatalf("Sniff = %+v, %v; want %+v, %v", got, ok, tt.want, wantOK)
			}
		})
	}
}

// TestSniffGenerated checks real files written by ffmpeg in many containers.
func TestSniffGenerated(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	dir := t.TempDir()
	video := []string{"-f", "lavfi", "-i", "testsrc2=size=176x144:rate=25:duration=0.3"}
	audio := []string{"-f", "lavfi", "-i", "sine=frequency=440:duration=0.3"}
	tests := []struct {
		file string
		args []string
		want Kind
	}{
		{"a.mp4", cat(video, "-c:v", "libx264", "-pix_fmt", "yuv420p"), kindMP4()},
		{"a.mov", cat(video, "-c:v", "mpeg4"), kindMOV()},
		{"a.3gp", cat(video, "-c:v", "mpeg4"), kind3GP()},
		{"a.webm", cat(video, "-c:v", "libvpx", "-b:v", "100k"), kindWebM()},
		{"a.mkv", cat(video, "-c:v", "mpeg4"), kindMKV()},
		{"a.avi", cat(video, "-c:v", "mpeg4"), kindAVI()},
		{"a.flv", cat(video, "-c:v", "flv1"), kindFLV()},
		{"a.ts", cat(video, "-c:v", "mpeg2video"), kindTS()},
		{"a.mpg", cat(video, "-c:v", "mpeg1video", "-f", "mpeg"), kindMPEG()},
		{"a.vob", cat(video, "-c:v", "mpeg2video", "-f", "vob"), kindMPEG()},
		{"a.m4a", cat(audio, "-c:a", "aac", "-f", "ipod"), Kind{}},
		{"a.wav", cat(audio), Kind{}},
		{"a.png", cat(video, "-frames:v", "1"), Kind{}},
		{"a.jpg", cat(video, "-frames:v", "1"), Kind{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			args := append([]string{"-hide_banner", "-loglevel", "error", "-y"}, tt.args...)
			out, err := exec.Command(ffmpeg.ffmpeg, append(args, path)...).CombinedOutput()
			if err != nil {
				t.Skipf("this ffmpeg cannot write %s: %v: %s", tt.file, err, out)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got, ok := Sniff(data)
			if wantOK := tt.want != (Kind{}); ok != wantOK || got != tt.want {
				t.Fatalf("Sniff(%s, starts %q) = %+v, %v; want %+v, %v", tt.file, data[:min(16, len(data))], got, ok, tt.want, wantOK)
			}
		})
	}
}

func cat(base []string, more ...string) []string {
	return append(append([]string(nil), base...), more...)
}

// TestSniffIgnoresTail shows that only SniffLen bytes matter.
func TestSniffIgnoresTail(t *testing.T) {
	data := SampleVideo()
	full, okFull := Sniff(data)
	head, okHead := Sniff(data[:SniffLen])
	if full != head || okFull != okHead {
		t.Fatalf("Sniff(whole file) = %+v, %v; Sniff(first %d bytes) = %+v, %v", full, okFull, SniffLen, head, okHead)
	}
}

func FuzzSniff(f *testing.F) {
	for _, tt := range sniffCases() {
		f.Add(tt.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, ok := Sniff(data)
		if !ok {
			if k != (Kind{}) {
				t.Fatalf("Sniff returned false with kind %+v", k)
			}
			return
		}
		if len(k.ContentType) < len("video/x") || k.ContentType[:6] != "video/" || len(k.Ext) < 2 || k.Ext[0] != '.' {
			t.Fatalf("Sniff returned malformed kind %+v", k)
		}
		if len(data) > SniffLen {
			if k2, ok2 := Sniff(data[:SniffLen]); k2 != k || ok2 != ok {
				t.Fatalf("Sniff depends on bytes past SniffLen: %+v vs %+v", k, k2)
			}
		}
	})
}
