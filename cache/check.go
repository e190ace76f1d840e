package cache

import (
	"strconv"

	"golang.org/x/sync/singleflight"
)

// fence is a layer's epochs (the near layer's, or epochs alone for a
// layer that keeps nothing in process) and the loads it shares.
type fence struct {
	near  *near
	group singleflight.Group
}

// checked is the one way a read goes below a layer. Before it reads the
// layer beneath it notes the epoch of each of its keys; it keeps a value
// in process only under the epoch noted for its key, and it shares a load
// (singleflight) only with callers that noted the same epochs. An
// invalidation moves the epoch of its keys, so a caller that arrives
// after it never receives, nor keeps, a value loaded before it.
type checked struct {
	f      *fence
	keys   []string
	epochs []uint64
}

// check notes the epochs of keys; more may be added with add.
func (f *fence) check(keys ...string) *checked {
	k := &checked{f: f}
	for _, key := range keys {
		k.add(key)
	}
	return k
}

// add notes one more key, which becomes number len(keys)-1 for keep.
func (k *checked) add(key string) {
	k.keys = append(k.keys, key)
	k.epochs = append(k.epochs, k.f.near.epoch(key))
}

// keep puts v in process under key number i, unless a write invalidated
// that key since it was noted.
func (k *checked) keep(i int, v any) { k.f.near.put(k.keys[i], v, k.epochs[i]) }

// load runs fn once for the concurrent callers of name that noted the
// same epochs. Every epoch only grows, so their sum moves with any of
// them.
func (k *checked) load(name string, fn func() (any, error)) (any, error) {
	var sum uint64
	for _, e := range k.epochs {
		sum += e
	}
	v, err, _ := k.f.group.Do(name+"@"+strconv.FormatUint(sum, 10), fn)
	return v, err
}
