package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrBadToken covers every token that must not be trusted: malformed,
// tampered, expired, another issuer or another algorithm.
var ErrBadToken = errors.New("invalid token")

// Tokens issues and verifies HS256 session tokens.
type Tokens struct {
	secret []byte
	issuer string
	ttl    time.Duration
	now    func() time.Time

	// verified remembers tokens that passed, until they expire: a client
	// sends the same token with every request, and checking it again
	// (base64, JSON, HMAC) cost a tenth of a read's time.
	mu       sync.RWMutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	userID  int64
	expires time.Time
}

// maxVerified bounds the remembered tokens; past it they are forgotten
// together and checked afresh.
const maxVerified = 1 << 14

// NewTokens returns a signer; secret must be non-empty.
func NewTokens(secret, issuer string, ttl time.Duration) (*Tokens, error) {
	if secret == "" {
		return nil, errors.New("jwt secret is empty")
	}
	return &Tokens{secret: []byte(secret), issuer: issuer, ttl: ttl, now: time.Now, verified: map[string]verifiedToken{}}, nil
}

// Issue returns a token naming userID as its subject.
func (t *Tokens) Issue(userID int64) (string, error) {
	now := t.now()
	claims := jwt.RegisteredClaims{
		Subject:   strconv.FormatInt(userID, 10),
		Issuer:    t.issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Verify returns the user id of a valid token, or ErrBadToken.
func (t *Tokens) Verify(token string) (int64, error) {
	t.mu.RLock()
	v, ok := t.verified[token]
	t.mu.RUnlock()
	if ok && t.now().Before(v.expires) {
		return v.userID, nil
	}
	// A token is base64url and dots, nothing else. Go's base64 decoder
	// would skip CR and LF, and strict decoding refuses non-zero padding
	// bits: together they make exactly one spelling of a token valid.
	for i := 0; i < len(token); i++ {
		if ch := token[i]; !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return 0, fmt.Errorf("%w: unexpected character", ErrBadToken)
		}
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return t.secret, nil },
		// Pinning the method is what refuses alg=none and RS/HS confusion.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: bad subject", ErrBadToken)
	}
	t.mu.Lock()
	if len(t.verified) >= maxVerified {
		clear(t.verified)
	}
	t.verified[token] = verifiedToken{userID: id, expires: claims.ExpiresAt.Time}
	t.mu.Unlock()
	return id, nil
}

// LoadOrCreateSecret returns the secret kept in dir, creating a random one
// on first use, so that an embedded install needs no set-up and its tokens
// survive restarts.
func LoadOrCreateSecret(dir string) (string, error) {
	path := filepath.Join(dir, "jwt.secret")
	raw, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(raw)); len(s) >= 32 {
			return s, nil
		}
		return "", fmt.Errorf("%s: secret shorter than 32 characters; delete the file to make a new one", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read jwt secret: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("make jwt secret: %w", err)
	}
	secret := hex.EncodeToString(buf)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("make data dir: %w", err)
	}
	// O_EXCL: two processes starting at once must not each write a secret.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateSecret(dir)
	}
	if err != nil {
		return "", fmt.Errorf("write jwt secret: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write jwt secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write jwt secret: %w", err)
	}
	return secret, nil
}
