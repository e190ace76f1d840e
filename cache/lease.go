package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Leases close the race between a fill and a delete, in the manner of
// memcache's leases (Nishtala et al., NSDI 2013). A reader that missed
// takes a lease on the key before it reads the database; a delete removes
// the key and its lease; a fill writes only while its lease is still the
// key's, checked and written in one script. A load that read the database
// before a commit can therefore not put its old result back after the
// commit's delete, however late it comes. Warm reads never touch a lease:
// the cost is one round trip on a miss, which then reads the database
// anyway.

// leaseTTL bounds how long a lease waits for its fill; a load slower than
// this is served but not kept.
const leaseTTL = 10 * time.Second

// leaseKey names key's lease so that both hash to the same Cluster slot,
// as one script must touch both.
func leaseKey(key string) string {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if end := strings.IndexByte(key[open+1:], '}'); end > 0 {
			return key + ":lease" // the key's own hash tag decides the slot
		}
	}
	return "{" + key + "}:lease"
}

// leases makes lease tokens unique to this process and call.
type leases struct {
	prefix string
	next   atomic.Uint64
}

func newLeases() *leases {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &leases{prefix: hex.EncodeToString(b) + ":"}
}

// take takes a lease on each key, in one round trip, and returns their
// tokens; "" where none was taken (no Redis, or it failed), which makes
// that key's fill a no-op.
func (c *Redis) take(ctx context.Context, keys ...string) []string {
	tokens := make([]string, len(keys))
	if c.rdb == nil || len(keys) == 0 {
		return tokens
	}
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.StatusCmd, len(keys))
	for i, k := range keys {
		tokens[i] = c.leases.prefix + strconv.FormatUint(c.leases.next.Add(1), 36)
		cmds[i] = pipe.Set(ctx, leaseKey(k), tokens[i], leaseTTL)
	}
	if _, err := pipe.Exec(ctx); c.failed(err) {
		for i, cmd := range cmds {
			if cmd.Err() != nil {
				tokens[i] = ""
			}
		}
	}
	return tokens
}

// fillScript writes KEYS[1] if KEYS[2], its lease, still holds ARGV[1]:
// ARGV[3] is the shape, "s" a string ARGV[4], "m" a set of ARGV[4...],
// "z" a sorted set of score/member pairs ARGV[4...]; ARGV[2] is the TTL
// in ms. Members go in chunks, below Lua's limit on unpack.
var fillScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
local shape = ARGV[3]
if shape == 's' then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[2])
  return 1
end
redis.call('DEL', KEYS[1])
local cmd = 'SADD'
if shape == 'z' then cmd = 'ZADD' end
for i = 4, #ARGV, 1000 do
  redis.call(cmd, KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// fill queues the write of a value loaded under token (see fillScript).
// It is sent as EVAL, not EVALSHA, so a pipeline never meets NOSCRIPT on a
// node that has not seen it (a promoted replica); Redis compiles it once.
func fill(ctx context.Context, p redis.Scripter, key, token string, ttl time.Duration, shape string, values ...any) *redis.Cmd {
	if token == "" {
		return nil
	}
	args := append([]any{token, ttl.Milliseconds(), shape}, values...)
	return fillScript.Eval(ctx, p, []string{key, leaseKey(key)}, args...)
}
