package testenv

// Reply is a decoded JSON answer of the API, with typed accessors that give
// the zero value (or -1 for a missing number) instead of panicking, so a
// malformed answer fails an assertion rather than the test binary.
type Reply map[string]any

// Code is the envelope's status_code.
func (r Reply) Code() int64 {
	f, ok := r["status_code"].(float64)
	if !ok {
		return -1
	}
	return int64(f)
}

// Msg is the envelope's status_msg.
func (r Reply) Msg() string { return r.Str("status_msg") }

// Int is a number field, -1 when absent or not a number.
func (r Reply) Int(key string) int64 {
	f, ok := r[key].(float64)
	if !ok {
		return -1
	}
	return int64(f)
}

// Str is a string field, "" when absent.
func (r Reply) Str(key string) string {
	s, ok := r[key].(string)
	if !ok {
		return ""
	}
	return s
}

// Obj is an object field, empty when absent.
func (r Reply) Obj(key string) Reply {
	m, ok := r[key].(map[string]any)
	if !ok {
		return Reply{}
	}
	return Reply(m)
}

// List is an array-of-objects field, empty when absent.
func (r Reply) List(key string) []Reply {
	raw, ok := r[key].([]any)
	if !ok {
		return nil
	}
	out := make([]Reply, 0, len(raw))
	for _, x := range raw {
		m, ok := x.(map[string]any)
		if !ok {
			m = map[string]any{}
		}
		out = append(out, Reply(m))
	}
	return out
}
