package cache

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// A viewer's likes and follows are Redis sets holding a sentinel member
// "0" once loaded; a page asks one about just its ids (SMISMEMBER).

// memberRead is the part of a Find that asks one membership set about ids.
type memberRead struct {
	kind, key string
	ids       []int64
	out       map[int64]bool
	load      func() ([]int64, error)
	chk       *checked // key, noted before Redis is read
	some      *redis.BoolSliceCmd
}

func (c *Redis) members(kind, key string, ids []int64, out map[int64]bool, load func() ([]int64, error)) *memberRead {
	return &memberRead{kind: kind, key: key, ids: ids, out: out, load: load, chk: c.check(key)}
}

func (m *memberRead) queue(ctx context.Context, p redis.Pipeliner) {
	m.some = p.SMIsMember(ctx, m.key, members(m.ids)...)
}

// answer fills out from the Redis reply; when the set was not loaded (no
// sentinel) it loads it whole and returns the write-back.
func (m *memberRead) answer(ctx context.Context, c *Redis) (func(redis.Pipeliner), error) {
	// A key whose delete failed may still hold the set from before a
	// write: load it.
	if !c.unsent.has(m.key) {
		if res := m.some.Val(); len(res) == len(m.ids)+1 && res[0] {
			c.m.redis(m.kind, 1)
			for i, id := range m.ids {
				if res[i+1] {
					m.out[id] = true
				}
			}
			return nil, nil
		}
	}
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
	in := make(map[int64]struct{}, len(loaded.ids))
	for _, id := range loaded.ids {
		in[id] = struct{}{}
	}
	for _, id := range m.ids {
		if _, ok := in[id]; ok {
			m.out[id] = true
		}
	}
	return func(p redis.Pipeliner) {
		fill(ctx, p, m.key, loaded.token, c.ttl.value(), "m", members(loaded.ids)...)
	}, nil
}
