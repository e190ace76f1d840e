package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestPasswords(t *testing.T) {
	p := NewPasswords(4)
	long := strings.Repeat("密", 32) // 96 bytes: past bcrypt's own limit
	for _, pw := range []string{"secret1", long} {
		h, err := p.Hash(pw)
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		if err := p.Check(h, pw); err != nil {
			t.Errorf("Check(right %q) = %v, want nil", pw, err)
		}
		if err := p.Check(h, pw+"x"); !errors.Is(err, ErrMismatch) {
			t.Errorf("Check(wrong) = %v, want ErrMismatch", err)
		}
	}
	// The difference in the last character must matter even past 72 bytes.
	h, err := p.Hash(long)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(h, strings.Repeat("密", 31)+"x"); !errors.Is(err, ErrMismatch) {
		t.Errorf("Check(differs in last char) = %v, want ErrMismatch", err)
	}
}

func TestTokens(t *testing.T) {
	tok, err := NewTokens(strings.Repeat("k", 32), "tiktok-lite", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	good, err := tok.Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := tok.Verify(good); err != nil || id != 42 {
		t.Fatalf("Verify(good) = %d, %v; want 42, nil", id, err)
	}

	other, _ := NewTokens(strings.Repeat("o", 32), "tiktok-lite", time.Hour)
	foreign, err := other.Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	otherIssuer, _ := NewTokens(strings.Repeat("k", 32), "someone-else", time.Hour)
	wrongIss, err := otherIssuer.Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := NewTokens(strings.Repeat("k", 32), "tiktok-lite", time.Hour)
	expired.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	old, err := expired.Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	unsignedNone, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Subject: "1", Issuer: "tiktok-lite"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.RegisteredClaims{Subject: "1", Issuer: "tiktok-lite", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	noExp, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "1", Issuer: "tiktok-lite"}).SignedString([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1","iss":"tiktok-lite","exp":9999999999}`)) + "." + parts[2]

	for name, bad := range map[string]string{
		"empty": "", "garbage": "abc", "foreign key": foreign, "other issuer": wrongIss,
		"expired": old, "alg none": none, "alg none signed": unsignedNone, "hs512": hs512,
		"no exp": noExp, "tampered payload": tampered,
	} {
		if _, err := tok.Verify(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("Verify(%s) = %v, want ErrBadToken", name, err)
		}
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || len(a) < 32 {
		t.Errorf("secrets %q then %q, want the same one of 32+ chars", a, b)
	}
	if c, err := LoadOrCreateSecret(t.TempDir()); err != nil || c == a {
		t.Errorf("fresh dir gave %q, %v; want a new secret", c, err)
	}
}

// A remembered token still expires on time, and only tokens that passed
// are remembered.
func TestRememberedTokensStillExpire(t *testing.T) {
	tok, _ := NewTokens(strings.Repeat("k", 32), "tiktok-lite", time.Hour)
	clock := time.Now()
	tok.now = func() time.Time { return clock }
	good, err := tok.Issue(7)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if id, err := tok.Verify(good); err != nil || id != 7 {
			t.Fatalf("Verify = %d, %v; want 7", id, err)
		}
	}
	clock = clock.Add(2 * time.Hour)
	if _, err := tok.Verify(good); !errors.Is(err, ErrBadToken) {
		t.Fatalf("a remembered token was accepted after it expired: %v", err)
	}
	forged := good[:len(good)-2] + "AA"
	clock = clock.Add(-2 * time.Hour)
	for range 2 {
		if _, err := tok.Verify(forged); !errors.Is(err, ErrBadToken) {
			t.Fatalf("a forged token was accepted: %v", err)
		}
	}
}
