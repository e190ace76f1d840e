// Package auth signs and checks session tokens (JWT, HS256) and hashes
// passwords (bcrypt).
package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Passwords hashes and checks passwords with bcrypt at a fixed cost.
type Passwords struct{ cost int }

// NewPasswords returns a hasher; cost below bcrypt.MinCost is raised to it.
func NewPasswords(cost int) *Passwords {
	if cost < bcrypt.MinCost {
		cost = bcrypt.MinCost
	}
	return &Passwords{cost: cost}
}

// ErrMismatch is a wrong password.
var ErrMismatch = errors.New("password does not match")

// prehash keeps every password inside bcrypt's 72-byte input limit: 32
// characters of four-byte UTF-8 are 128 bytes, and bcrypt would either
// refuse them or, in other implementations, silently truncate.
func prehash(password string) []byte {
	sum := sha256.Sum256([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

// Hash returns the salted bcrypt hash of password.
func (p *Passwords) Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword(prehash(password), p.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Check returns nil when password matches hash, ErrMismatch when it does not.
func (p *Passwords) Check(hash, password string) error {
	err := bcrypt.CompareHashAndPassword([]byte(hash), prehash(password))
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return ErrMismatch
	}
	if err != nil {
		return fmt.Errorf("check password: %w", err)
	}
	return nil
}
