package service

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"

	"github.com/tiktok-lite/server/pkg/errcode"
)

// Limits of the client contract, counted in characters, not bytes.
const (
	MaxNameLen     = 32
	MinPasswordLen = 6
	MaxPasswordLen = 32
	MaxTitleLen    = 100
	MaxCommentLen  = 500
	MaxMessageLen  = 500
)

// text trims s, puts it in Unicode's composed form (NFC: "café" is one
// string however the phone typed it) and checks that it holds between 1
// and max characters of valid UTF-8, at least one of them visible, without
// control characters (newlines allowed when multiline).
func text(field, s string, max int, multiline bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", errcode.InvalidParam.WithMsg(field + " is not valid text")
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return "", errcode.InvalidParam.WithMsg(field + " must not be empty")
	}
	if !strings.ContainsFunc(s, visible) {
		return "", errcode.InvalidParam.WithMsg(field + " must contain at least one visible character")
	}
	if n > max {
		return "", errcode.InvalidParam.WithMsg(fmt.Sprintf("%s must be at most %d characters", field, max))
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			return "", errcode.InvalidParam.WithMsg(field + " must not contain control characters")
		}
	}
	return s, nil
}

// visible reports whether r shows as something: a letter, digit,
// punctuation or symbol that is not one of Unicode's default-ignorable
// fillers (U+3164 HANGUL FILLER is a "letter" that draws nothing).
func visible(r rune) bool {
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) && !unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// checkName applies the PRECIS UsernameCasePreserved profile (RFC 8265):
// NFC, full-width letters to their usual width, and no spaces, format
// characters (zero-width, bidi overrides), separators or default-ignorable
// code points, so two names that look alike are the same name. Case is
// kept and matters: "Alice" and "alice" are two accounts, on SQLite and
// MySQL alike (both compare names byte for byte).
func checkName(name string) (string, error) {
	name, err := text("username", name, MaxNameLen, false)
	if err != nil {
		return "", err
	}
	out, err := precis.UsernameCasePreserved.String(name)
	if err != nil {
		return "", errcode.InvalidParam.WithMsg("username may hold letters, digits and punctuation, without spaces, emoji or invisible characters")
	}
	return out, nil
}

// loginName is the name to look an account up by: the checked form, or,
// for a name the rules refuse, the name as typed, so that an account made
// before the rules still logs in.
func loginName(name string) string {
	if out, err := checkName(name); err == nil {
		return out
	}
	return strings.TrimSpace(name)
}

func checkPassword(pw string) error {
	if !utf8.ValidString(pw) {
		return errcode.InvalidParam.WithMsg("password is not valid text")
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen || n > MaxPasswordLen {
		return errcode.InvalidParam.WithMsg(fmt.Sprintf("password must be %d to %d characters", MinPasswordLen, MaxPasswordLen))
	}
	return nil
}
