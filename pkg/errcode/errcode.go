// Package errcode holds the stable status codes of the client contract and
// the coded error type that carries one from a service to the response.
//
// Codes are grouped like HTTP statuses so that a reader can tell the family
// at a glance: 400xx bad input, 401xx authentication, 403xx forbidden,
// 404xx not found, 409xx conflict, 413xx/415xx uploads, 429xx rate limits,
// 500xx/503xx server side. Once published a code never changes meaning.
package errcode

import "errors"

// Error is a business outcome with a code the client can act on and a
// message written for the person holding the phone.
type Error struct {
	Code int32
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Is matches coded errors by code, so a copy with a different message still
// satisfies errors.Is against the sentinel it was made from.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// WithMsg returns the same code with a more specific message.
func (e *Error) WithMsg(msg string) *Error { return &Error{Code: e.Code, Msg: msg} }

// The code table. api/openapi.yaml lists the same codes in the same order
// (api.TestStatusCodesAreTheServers), and the README's table is made from it.
var (
	InvalidParam = &Error{40001, "invalid parameter"}

	NotLoggedIn      = &Error{40101, "please log in first"}
	BadToken         = &Error{40102, "your session has expired, please log in again"}
	WrongCredentials = &Error{40103, "wrong username or password"}

	Forbidden = &Error{40301, "you are not allowed to do that"}

	NotFound        = &Error{40400, "not found"}
	UserNotFound    = &Error{40401, "user not found"}
	VideoNotFound   = &Error{40402, "video not found"}
	CommentNotFound = &Error{40403, "comment not found"}

	NameTaken = &Error{40901, "this username is already taken"}

	TooLarge         = &Error{41301, "the file is too large"}
	UnsupportedMedia = &Error{41501, "the file is not a supported video"}

	TooManyRequests = &Error{42901, "too many requests, please slow down"}

	Internal    = &Error{50001, "something went wrong on our side, please try again"}
	Unavailable = &Error{50301, "the service is busy, please try again shortly"}
)

// All lists every code once, in table order; tests use it to check the
// table has no duplicates and api/openapi.yaml documents each code.
func All() []*Error {
	return []*Error{
		InvalidParam,
		NotLoggedIn, BadToken, WrongCredentials,
		Forbidden,
		NotFound, UserNotFound, VideoNotFound, CommentNotFound,
		NameTaken,
		TooLarge, UnsupportedMedia,
		TooManyRequests,
		Internal, Unavailable,
	}
}
