package cache

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// A viewer's likes and follows are Redis sets holding a sentinel member
// "0" once loaded. The in-process layer keeps a whole set (an idSet) when
// it is small enough, and otherwise remembers that it is big, so that
// later reads ask Redis about just the ids of the page.

// maxNearSet is the largest membership set kept in process.
const maxNearSet = 20000

type idSet map[int64]struct{}

// bigSet marks a set too large to keep in process.
type bigSet struct{}

// memberRead is the part of a Find that asks one membership set about ids.
type memberRead struct {
	kind, key string
	ids       []int64
	out       map[int64]bool
	load      func() ([]int64, error)
	whole     bool     // fetch the whole set, to keep it in process
	chk       *checked // key, noted before Redis is read
	all       *redis.StringSliceCmd
	some      *redis.BoolSliceCmd
}

// nearMembers answers from the in-process layer when it holds the set
// (and returns nil), or returns the read to make from Redis.
func (c *Cache) nearMembers(ctx context.Context, kind, key string, ids []int64, out map[int64]bool, load func() ([]int64, error)) *memberRead {
	v, ok := c.near.get(key)
	if set, isSet := v.(idSet); ok && isSet {
		c.m.local(kind, 1)
		for _, id := range ids {
			if _, in := set[id]; in {
				out[id] = true
			}
		}
		return nil
	}
	_, big := v.(bigSet)
	return &memberRead{kind: kind, key: key, ids: ids, out: out, load: load,
		whole: c.near.usable() && !big, chk: c.check(key)}
}

func (m *memberRead) queue(ctx context.Context, p redis.Pipeliner) {
	if m.whole {
		m.all = p.SMembers(ctx, m.key)
	} else {
		m.some = p.SMIsMember(ctx, m.key, members(m.ids)...)
	}
}

// answer fills out from the Redis reply; when the set was not loaded (no
// sentinel) it loads it whole and returns the write-back.
func (m *memberRead) answer(ctx context.Context, c *Cache) (func(redis.Pipeliner), error) {
	switch {
	case c.unsent.has(m.key):
		// Redis may still hold the set from before a write: load it.
	case m.all != nil:
		if all := m.all.Val(); len(all) > 0 {
			set := make(idSet, len(all))
			loaded := false
			for _, s := range all {
				if s == setSentinel {
					loaded = true
					continue
				}
				if id, err := strconv.ParseInt(s, 10, 64); err == nil {
					set[id] = struct{}{}
				}
			}
			if loaded {
				c.m.count(m.kind, 1, 0)
				m.keep(c, set)
				return nil, nil
			}
		}
	case m.some != nil:
		if res := m.some.Val(); len(res) == len(m.ids)+1 && res[0] {
			c.m.count(m.kind, 1, 0)
			for i, id := range m.ids {
				if res[i+1] {
					m.out[id] = true
				}
			}
			return nil, nil
		}
	}
	c.m.count(m.kind, 0, 1)
	type loadedSet struct {
		ids   []int64
		token string
	}
	v, err := m.chk.load(m.key, func() (any, error) {
		token := c.take(ctx, m.key)[0]
		ids, err := m.load()
		return loadedSet{ids, token}, err
	})
	if err != nil {
		return nil, err
	}
	loaded := v.(loadedSet)
	set := make(idSet, len(loaded.ids))
	for _, id := range loaded.ids {
		set[id] = struct{}{}
	}
	m.keep(c, set)
	return func(p redis.Pipeliner) {
		fill(ctx, p, m.key, loaded.token, c.ttl.value(), "m", members(loaded.ids)...)
	}, nil
}

// keep answers from set and keeps it in process (or notes that it is big).
func (m *memberRead) keep(c *Cache, set idSet) {
	for _, id := range m.ids {
		if _, in := set[id]; in {
			m.out[id] = true
		}
	}
	if len(set) > maxNearSet {
		m.chk.keep(0, bigSet{})
		return
	}
	m.chk.keep(0, set)
}
