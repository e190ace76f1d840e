package cache

import (
	"fmt"
	"testing"
	"time"
)

func TestNearFencesOffReadsThatRaceAWrite(t *testing.T) {
	n := newNear(time.Minute, 1024, true, nil)
	e := n.epoch("k")
	n.drop("k") // a write lands while the value is read from below
	n.put("k", "old", e)
	if v, ok := n.get("k"); ok {
		t.Fatalf("a value read before the write was kept: %v", v)
	}
	n.put("k", "new", n.epoch("k"))
	if v, ok := n.get("k"); !ok || v != "new" {
		t.Fatalf("get = %v, %v; want new", v, ok)
	}
	n.drop("k")
	if _, ok := n.get("k"); ok {
		t.Fatal("dropped key still served")
	}
}

func TestNearServesNothingWhileNotLive(t *testing.T) {
	n := newNear(time.Minute, 1024, false, nil)
	n.put("k", 1, n.epoch("k"))
	if _, ok := n.get("k"); ok {
		t.Fatal("served before the feed was live")
	}
	n.setLive(true)
	e := n.epoch("k")
	n.put("k", 1, e)
	if _, ok := n.get("k"); !ok {
		t.Fatal("not served once live")
	}
	n.setLive(false)
	n.setLive(true)
	if _, ok := n.get("k"); ok {
		t.Fatal("a value kept across a feed outage")
	}
	n.put("k", 1, e) // read before the outage
	if _, ok := n.get("k"); ok {
		t.Fatal("a read from before the outage was kept")
	}
	var none *near
	none.put("k", 1, none.epoch("k"))
	none.drop("k")
	if _, ok := none.get("k"); ok || none.usable() {
		t.Fatal("a nil layer served")
	}
}

func TestNearBoundsSizeAndAge(t *testing.T) {
	n := newNear(20*time.Millisecond, 2*nearShards, true, nil)
	for i := range 100 * nearShards {
		k := fmt.Sprint("k", i)
		n.put(k, i, n.epoch(k))
	}
	total := 0
	for i := range n.shards {
		total += len(n.shards[i].keys)
	}
	if total > 2*nearShards {
		t.Fatalf("holds %d entries, want at most %d", total, 2*nearShards)
	}
	stored := 0
	n.values.Range(func(any, any) bool { stored++; return true })
	if stored != total {
		t.Fatalf("%d values stored for %d keys", stored, total)
	}
	n.put("fresh", 1, n.epoch("fresh"))
	if _, ok := n.get("fresh"); !ok {
		t.Fatal("newest entry not served")
	}
	time.Sleep(30 * time.Millisecond)
	if _, ok := n.get("fresh"); ok {
		t.Fatal("served past its TTL")
	}
}

func TestRowRefs(t *testing.T) {
	k := keys{"p:"}
	for _, tc := range []struct {
		key  string
		want int64
		ok   bool
	}{
		{k.user(7), rowRef(userRow, 7), true},
		{k.video(7), rowRef(videoRow, 7), true},
		{k.user(1 << 40), rowRef(userRow, 1<<40), true},
		{"q:u:7", 0, false}, {k.comments(7), 0, false}, {k.likes(7), 0, false},
		{k.timeline(), 0, false}, {"p:u:", 0, false}, {"p:u:-1", 0, false}, {"p:v:1x", 0, false},
	} {
		if got, ok := k.ref(tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("ref(%q) = %d, %v; want %d, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
	if rowRef(userRow, 7) == rowRef(videoRow, 7) {
		t.Fatal("a user and a video of the same id share a ref")
	}
}

// A row stored and dropped by its key is found and forgotten by its ref,
// also when the shard evicts it or the layer is cleared.
func TestRowsAreFoundByRef(t *testing.T) {
	k := keys{"p:"}
	n := newNear(time.Minute, nearShards, true, k.ref)
	now := time.Now().UnixNano()
	n.put(k.user(3), "ann", n.epoch(k.user(3)))
	if v, ok := n.getRef(rowRef(userRow, 3), now); !ok || v != "ann" {
		t.Fatalf("getRef = %v, %v; want ann", v, ok)
	}
	if _, ok := n.getRef(rowRef(videoRow, 3), now); ok {
		t.Fatal("a video found under a user's id")
	}
	n.drop(k.user(3))
	if _, ok := n.getRef(rowRef(userRow, 3), now); ok {
		t.Fatal("dropped row still found by its ref")
	}

	for id := range int64(4 * nearShards) { // one entry per shard: most are evicted
		n.put(k.video(id), id, n.epoch(k.video(id)))
	}
	held := 0
	for id := range int64(4 * nearShards) {
		if _, ok := n.getRef(rowRef(videoRow, id), now); ok {
			held++
		}
	}
	if held > nearShards {
		t.Fatalf("%d rows found by ref, the layer holds at most %d", held, nearShards)
	}
	n.clear()
	for id := range int64(4 * nearShards) {
		if _, ok := n.getRef(rowRef(videoRow, id), now); ok {
			t.Fatalf("row %d found after clear", id)
		}
	}
}
