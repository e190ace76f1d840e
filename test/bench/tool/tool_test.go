package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestParseRun(t *testing.T) {
	tests := []struct {
		line    string
		wantErr bool
		rps     float64
		errs    float64
	}{
		{"stack=full route=feed_user requests=30000 duration_us=15000000 ok=29990 bad=10 sock=1 timeout=2 p50_us=1500 p99_us=9000", false, 2000, 13},
		{"stack=ceiling route=like requests=100 duration_us=1000000 ok=100 bad=0 sock=0 timeout=0 p50_us=1 p99_us=2", false, 100, 0},
		{"route=like requests=100 duration_us=1000000", true, 0, 0},
		{"stack=full route=like requests=x duration_us=1000000", true, 0, 0},
	}
	for _, tt := range tests {
		got, err := parseRun(tt.line)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseRun(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got.rps() != tt.rps || got.errors() != tt.errs {
			t.Errorf("parseRun(%q): rps %v errors %v, want %v and %v", tt.line, got.rps(), got.errors(), tt.rps, tt.errs)
		}
	}
}

func TestCaptureKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/douyin/feed/", "/douyin/feed/"},
		{"/douyin/feed/?latest_time=5", "/douyin/feed/?latest_time=5"},
		{"/douyin/feed/?token=abc", "/douyin/feed/"},
		{"/douyin/user/?user_id=7&token=a.b.c", "/douyin/user/?user_id=7"},
	}
	for _, tt := range tests {
		if got := captureKey(tt.in); got != tt.want {
			t.Errorf("captureKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTargetFor(t *testing.T) {
	tests := []struct {
		stack, route string
		want         target
	}{
		{"full", "feed_user", target{minRatio: 0.25, maxP99Ms: 20}},
		{"full", "comment_list", target{minRatio: 0.45, maxP99Ms: 20}},
		{"full", "like", target{minRPS: 4000, writes: true}},
		{"full", "chat_poll", target{maxP99Ms: 20}},
		{"embedded", "feed_user", target{minRPS: 5000}},
		{"embedded", "like", target{}},
	}
	for _, tt := range tests {
		if got := targetFor(tt.stack, tt.route); got != tt.want {
			t.Errorf("targetFor(%s, %s) = %+v, want %+v", tt.stack, tt.route, got, tt.want)
		}
	}
}

// The power law must put about 1/(offset*H) of the draws on rank 0.
func TestPowerLawTop(t *testing.T) {
	const n, offset, draws = 3000, 10.0, 200000
	p := newPowerLaw(n, offset)
	rng := rand.New(rand.NewPCG(1, 2))
	top := 0
	for range draws {
		r := p.draw(rng)
		if r < 0 || r >= n {
			t.Fatalf("draw = %d, want 0..%d", r, n-1)
		}
		if r == 0 {
			top++
		}
	}
	h := 0.0
	for i := range n {
		h += 1 / (float64(i) + offset)
	}
	want := draws / (offset * h)
	if got := float64(top); math.Abs(got-want) > 0.1*want {
		t.Errorf("rank 0 drawn %v times, want about %.0f", got, want)
	}
}
