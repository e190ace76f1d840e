package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fuzzClock pins the signer's clock so that Issue is deterministic: a token
// Verify accepts can then be compared byte for byte with the one Issue makes.
var fuzzClock = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fuzzTokens(tb testing.TB) *Tokens {
	tb.Helper()
	tok, err := NewTokens(strings.Repeat("f", 32), "tiktok-lite", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	tok.now = func() time.Time { return fuzzClock }
	return tok
}

// tokenSeeds are valid tokens, near misses of them and the classic attacks.
func tokenSeeds(tb testing.TB, tok *Tokens) []string {
	tb.Helper()
	var seeds []string
	for _, id := range []int64{1, 42, 1<<63 - 1} {
		s, err := tok.Issue(id)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, s)
	}
	good := seeds[1]
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString
	sign := func(m jwt.SigningMethod, key any, c jwt.RegisteredClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	exp := jwt.NewNumericDate(fuzzClock.Add(time.Hour))
	seeds = append(seeds,
		"", ".", "..", "...", "a.b.c", "Bearer "+good, good+".", good+"=",
		parts[0]+"."+parts[1]+".",
		enc([]byte(`{"alg":"none","typ":"JWT"}`))+"."+parts[1]+".",
		sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.RegisteredClaims{Subject: "1", Issuer: "tiktok-lite", ExpiresAt: exp}),
		sign(jwt.SigningMethodHS512, []byte(strings.Repeat("f", 32)), jwt.RegisteredClaims{Subject: "1", Issuer: "tiktok-lite", ExpiresAt: exp}),
		parts[0]+"."+enc([]byte(`{"sub":"1","iss":"tiktok-lite","exp":9999999999}`))+"."+parts[2],
		parts[0]+"."+enc([]byte(`{"sub":"-1","iss":"tiktok-lite","exp":9999999999}`))+"."+parts[2],
		parts[0]+"."+enc([]byte(`{"sub":"99999999999999999999","iss":"tiktok-lite","exp":9999999999}`))+"."+parts[2],
		enc([]byte(`{"alg":"HS256","typ":"JWT","kid":"../../../dev/null"}`))+"."+parts[1]+"."+parts[2],
		strings.Repeat("A", 4096),
	)
	return seeds
}

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, every
// refusal must be ErrBadToken, and whatever it accepts must be exactly the
// token Issue makes for that user at that moment, so no rewriting of a
// token (re-encoding, extra bytes, another header) ever passes.
func FuzzVerify(f *testing.F) {
	tok := fuzzTokens(f)
	for _, s := range tokenSeeds(f, tok) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := tok.Verify(s)
		if err != nil {
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("Verify(%q) error = %v, want ErrBadToken", s, err)
			}
			if id != 0 {
				t.Fatalf("Verify(%q) refused but returned id %d", s, id)
			}
			return
		}
		if id <= 0 {
			t.Fatalf("Verify(%q) accepted id %d, want a positive id", s, id)
		}
		want, err := tok.Issue(id)
		if err != nil {
			t.Fatal(err)
		}
		if s != want {
			t.Fatalf("Verify accepted %q for user %d, but Issue makes %q", s, id, want)
		}
	})
}

// TestVerifyRefusesRewrittenTokens pins the rewrites FuzzVerify's property
// rules out: base64 decoding skips CR and LF and, unless strict, ignores
// the unused low bits of the last character, so several spellings of one
// signature would verify. A token is accepted only as Issue wrote it.
func TestVerifyRefusesRewrittenTokens(t *testing.T) {
	tok := fuzzTokens(t)
	good, err := tok.Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	dot := strings.LastIndex(good, ".")
	sig := good[dot+1:]
	// 32 signature bytes take 43 characters; the last carries 2 unused bits,
	// so flipping them keeps the decoded signature and changes the text.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	lowBits := good[:len(good)-1] + string(alphabet[last^1])
	for _, tt := range []struct{ name, token string }{
		{"LF inside the signature", good[:dot+5] + "\n" + good[dot+5:]},
		{"CR LF after the signature", good + "\r\n"},
		{"unused low bits of the last character set", lowBits},
		{"LF inside the payload", good[:40] + "\n" + good[40:]},
		{"padding", good + "="},
	} {
		if id, err := tok.Verify(tt.token); !errors.Is(err, ErrBadToken) {
			t.Errorf("Verify(%s: %q) = %d, %v; want ErrBadToken", tt.name, tt.token, id, err)
		}
	}
}
