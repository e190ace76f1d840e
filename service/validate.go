package service

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

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

// text trims s and checks that it holds between 1 and max characters of
// valid UTF-8 without control characters (newlines allowed when multiline).
func text(field, s string, max int, multiline bool) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", errcode.InvalidParam.WithMsg(field + " is not valid text")
	}
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return "", errcode.InvalidParam.WithMsg(field + " must not be empty")
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

func checkName(name string) (string, error) {
	return text("username", name, MaxNameLen, false)
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
