package cache

import (
	"fmt"
	"testing"
	"time"
)

func TestNearFencesOffReadsThatRaceAWrite(t *testing.T) {
	n := newNear(time.Minute, 1024, true)
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
	n := newNear(time.Minute, 1024, false)
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
	n := newNear(20*time.Millisecond, 2*nearShards, true)
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
