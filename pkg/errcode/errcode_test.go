package errcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodesAreUnique(t *testing.T) {
	seen := map[int32]string{}
	for _, e := range All() {
		if prev, ok := seen[e.Code]; ok {
			t.Errorf("code %d used by %q and %q", e.Code, prev, e.Msg)
		}
		seen[e.Code] = e.Msg
		if e.Msg == "" {
			t.Errorf("code %d has no message", e.Code)
		}
	}
}

func TestIsMatchesByCode(t *testing.T) {
	specific := InvalidParam.WithMsg("title is required")
	wrapped := fmt.Errorf("publish: %w", specific)
	if !errors.Is(wrapped, InvalidParam) {
		t.Errorf("errors.Is(%v, InvalidParam) = false, want true", wrapped)
	}
	if errors.Is(wrapped, NotFound) {
		t.Errorf("errors.Is(%v, NotFound) = true, want false", wrapped)
	}
	var got *Error
	if !errors.As(wrapped, &got) || got.Msg != "title is required" {
		t.Errorf("errors.As gave %v, want the specific message", got)
	}
}
