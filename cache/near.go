package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// near holds what the in-process layer (Local) keeps: decoded rows, lists,
// membership sets and the timeline, keyed by their Redis key, with an
// epoch per shard. It is kept exact by invalidation, not by its TTL:
//
//   - every invalidation drops the key here before and after the layers
//     beneath delete it, and other instances drop it when the delete's
//     message reaches them;
//   - a value read from beneath is stored only if no invalidation of its
//     shard happened since the read began (the shard's epoch), so a reader
//     racing a write cannot put back the old value;
//   - while the invalidation feed is not known to be connected, nothing is
//     served or stored, and everything stored is dropped when it
//     (re)connects, since messages may have been missed meanwhile.
//
// A near that is never live holds nothing and serves as epochs alone: the
// Redis layer's fence.
//
// The values are shared by every request and must never be modified.
type near struct {
	// values is read without locks: a feed page looks up sixty keys, and
	// a reader-writer lock per shard made two cores fight over its
	// counter. The shards fence and bound what is stored in it.
	values   sync.Map // key, or a row's ref (see keys.ref) → *nearEntry
	ref      func(key string) (int64, bool)
	shards   [nearShards]nearShard
	seed     maphash.Seed
	ttl      time.Duration
	perShard int
	live     atomic.Bool
}

const nearShards = 256

type nearShard struct {
	mu    sync.Mutex
	epoch atomic.Uint64
	keys  map[string]struct{} // the shard's keys in values
}

type nearEntry struct {
	v   any
	exp int64 // unix nanos
}

// newNear returns a layer of about maxEntries entries, each kept at most
// ttl. It starts live only when live is true (a single process with no
// other writers); otherwise the invalidation feed sets it live. ref maps
// the keys that getRef looks up by number to their numbers; it may be nil.
func newNear(ttl time.Duration, maxEntries int, live bool, ref func(key string) (int64, bool)) *near {
	n := &near{seed: maphash.MakeSeed(), ttl: ttl, perShard: max(1, maxEntries/nearShards), ref: ref}
	for i := range n.shards {
		n.shards[i].keys = make(map[string]struct{})
	}
	n.live.Store(live)
	return n
}

// slot is where key's entry is in values.
func (n *near) slot(key string) any {
	if n.ref != nil {
		if r, ok := n.ref(key); ok {
			return r
		}
	}
	return key
}

func (n *near) shard(key string) *nearShard {
	return &n.shards[maphash.String(n.seed, key)%nearShards]
}

// usable reports whether values may be served and stored; a nil layer
// never is.
func (n *near) usable() bool { return n != nil && n.live.Load() }

func (n *near) get(key string) (any, bool) {
	if !n.usable() {
		return nil, false
	}
	return n.load(n.slot(key), time.Now().UnixNano())
}

// getRef is get for a row, by its ref, for a caller that looks up many
// rows at the time now.
func (n *near) getRef(ref int64, now int64) (any, bool) {
	if !n.usable() {
		return nil, false
	}
	return n.load(ref, now)
}

func (n *near) load(slot any, now int64) (any, bool) {
	v, ok := n.values.Load(slot)
	if !ok {
		return nil, false
	}
	e := v.(*nearEntry)
	if now > e.exp {
		return nil, false
	}
	return e.v, true
}

// epoch is taken before reading a value from below; put refuses the
// value if the key's shard saw an invalidation since.
func (n *near) epoch(key string) uint64 {
	if n == nil {
		return 0
	}
	return n.shard(key).epoch.Load()
}

func (n *near) put(key string, v any, epoch uint64) {
	if !n.usable() {
		return
	}
	s := n.shard(key)
	exp := time.Now().Add(n.ttl).UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch.Load() != epoch {
		return // a write landed while the value was read: it may be the old one
	}
	if _, ok := s.keys[key]; !ok && len(s.keys) >= n.perShard {
		for k := range s.keys { // full: evict one entry; map order is random enough
			delete(s.keys, k)
			n.values.Delete(n.slot(k))
			break
		}
	}
	s.keys[key] = struct{}{}
	n.values.Store(n.slot(key), &nearEntry{v: v, exp: exp})
}

// drop forgets keys and fences off reads of them that are in flight.
func (n *near) drop(keys ...string) {
	if n == nil {
		return
	}
	for _, k := range keys {
		s := n.shard(k)
		s.mu.Lock()
		s.epoch.Add(1)
		delete(s.keys, k)
		n.values.Delete(n.slot(k))
		s.mu.Unlock()
	}
}

// clear forgets everything and fences off every read in flight.
func (n *near) clear() {
	if n == nil {
		return
	}
	for i := range n.shards {
		s := &n.shards[i]
		s.mu.Lock()
		s.epoch.Add(1)
		for k := range s.keys {
			n.values.Delete(n.slot(k))
		}
		clear(s.keys)
		s.mu.Unlock()
	}
}

// setLive turns serving on or off; either way nothing stored survives,
// since invalidations may have been missed while the feed was down.
func (n *near) setLive(live bool) {
	n.live.Store(false)
	n.clear()
	n.live.Store(live)
}
