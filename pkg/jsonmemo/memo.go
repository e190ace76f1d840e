// Package jsonmemo remembers the JSON of values that come back in answer
// after answer (the same video in every feed page, the same author under
// every comment), so that each is encoded once per change instead of once
// per answer.
//
// Such values differ between viewers only in a flag or two (is_follow,
// is_favorite). A memo keeps the JSON with those flags cut out and writes
// each viewer's flags into the gaps, so one entry serves every viewer.
package jsonmemo

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/goccy/go-json"
)

// shards spreads the entries over separately locked maps, so that answers
// on every core can read at once.
const shards = 16

// Flags returns v with its viewer-dependent booleans replaced by set, and
// the values they had, in the order they appear in its JSON. Two are
// enough for a video: its author's is_follow and its own is_favorite. (By
// value rather than by pointer, so that a value never escapes to the heap.)
type Flags[T any] func(v T, set [2]bool) (T, [2]bool)

// Memo holds the JSON of up to a bounded number of values of T, by key.
// An entry is used only while the value asked for equals the one it was
// encoded from (flags aside), so a changed value is never answered with
// stale bytes: it is encoded again and replaces the entry.
type Memo[T comparable] struct {
	key      func(v T) int64
	flags    Flags[T]
	n        int // flags in use, 0 to 2
	perShard int
	shards   [shards]shard[T]
}

type shard[T comparable] struct {
	mu      sync.RWMutex
	entries map[int64]*entry[T]
}

// entry is immutable once stored.
type entry[T comparable] struct {
	value T      // flags cleared
	json  []byte // the value's JSON without the flags' literals
	gaps  [2]int // where in json each flag's literal goes
}

// New returns a memo of at most max entries (at least one per shard). key
// names a value (its id); flags reaches the first n of its viewer-dependent
// booleans.
func New[T comparable](max int, key func(v T) int64, n int, flags Flags[T]) *Memo[T] {
	if n < 0 || n > 2 {
		panic(fmt.Sprintf("jsonmemo: %d flags, at most 2 are supported", n))
	}
	m := &Memo[T]{key: key, flags: flags, n: n, perShard: max / shards}
	if m.perShard < 1 {
		m.perShard = 1
	}
	for i := range m.shards {
		m.shards[i].entries = make(map[int64]*entry[T])
	}
	return m
}

// Append appends the JSON of v to dst: the same bytes go-json's Marshal
// writes for v.
func (m *Memo[T]) Append(dst []byte, v T) ([]byte, error) {
	v, set := m.flags(v, [2]bool{})
	id := m.key(v)
	s := &m.shards[uint64(id)%shards]
	s.mu.RLock()
	e := s.entries[id]
	s.mu.RUnlock()
	if e == nil || e.value != v {
		var err error
		if e, err = m.encode(v); err != nil {
			return dst, err
		}
		s.mu.Lock()
		if len(s.entries) >= m.perShard {
			// Dropping a whole shard is cheaper than tracking use, and
			// what is still asked for comes back on its next answer.
			s.entries = make(map[int64]*entry[T], m.perShard)
		}
		s.entries[id] = e
		s.mu.Unlock()
	}

	at := 0
	for i, gap := range e.gaps[:m.n] {
		dst = append(dst, e.json[at:gap]...)
		dst = appendBool(dst, set[i])
		at = gap
	}
	return append(dst, e.json[at:]...), nil
}

// encode renders v (flags cleared) and finds where each flag is written by
// encoding it again with that flag set: the first byte that differs is
// where "false" became "true". This needs no knowledge of the field names.
func (m *Memo[T]) encode(v T) (*entry[T], error) {
	base, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	e := &entry[T]{value: v, json: make([]byte, 0, len(base))}
	at := 0 // how much of base is copied
	for i := range m.n {
		var set [2]bool
		set[i] = true
		flagged, _ := m.flags(v, set)
		withFlag, err := json.Marshal(flagged)
		if err != nil {
			return nil, err
		}
		pos := diff(base, withFlag)
		if pos < at || !bytes.HasPrefix(base[pos:], falseJSON) {
			return nil, fmt.Errorf("jsonmemo: flag %d of %T is not a JSON boolean after the one before it", i, v)
		}
		e.json = append(e.json, base[at:pos]...)
		e.gaps[i] = len(e.json)
		at = pos + len(falseJSON)
	}
	e.json = append(e.json, base[at:]...)
	return e, nil
}

var falseJSON = []byte("false")

func diff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}
