package jsonmemo

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/goccy/go-json"
)

type person struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	IsFollow bool   `json:"is_follow"`
	Bio      string `json:"bio"`
}

type clip struct {
	ID         int64  `json:"id"`
	Author     person `json:"author"`
	Likes      int64  `json:"likes"`
	IsFavorite bool   `json:"is_favorite"`
	Title      string `json:"title"`
}

func clips(max int) *Memo[clip] {
	return New(max, func(c clip) int64 { return c.ID }, 2, func(c clip, set [2]bool) (clip, [2]bool) {
		was := [2]bool{c.Author.IsFollow, c.IsFavorite}
		c.Author.IsFollow, c.IsFavorite = set[0], set[1]
		return c, was
	})
}

// Strings that a careless splice would break: quotes, the flags' own
// names, HTML that go-json escapes, invalid UTF-8, line separators.
var awkward = []string{
	"", "plain", `"is_follow":false`, `,"is_favorite":true}`, "<b>&amp;</b>",
	"\xff\xfe", "\u2028\u2029", "tab\there\nnewline", `back\slash`, "日本語 🎬",
}

func randomClip(r *rand.Rand, ids int64) clip {
	pick := func() string { return awkward[r.IntN(len(awkward))] }
	return clip{
		ID:         r.Int64N(ids) + 1,
		Author:     person{ID: r.Int64N(50), Name: pick(), IsFollow: r.IntN(2) == 0, Bio: pick()},
		Likes:      r.Int64N(3) - 1,
		IsFavorite: r.IntN(2) == 0,
		Title:      pick(),
	}
}

func appendOne[T comparable](t *testing.T, m *Memo[T], v T) {
	t.Helper()
	got, err := m.Append([]byte("["), v)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "["+string(want) {
		t.Fatalf("Append(%+v)\n got %s\nwant [%s", v, got, want)
	}
}

// Every flag combination, changed values under known ids and more ids than
// the memo holds: the bytes are always exactly those of a fresh encoding.
func TestAppendWritesWhatMarshalWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := clips(32)
	for range 20000 {
		appendOne(t, m, randomClip(r, 100))
	}
}

func TestEveryFlagCombinationOfOneValue(t *testing.T) {
	m := clips(16)
	c := clip{ID: 7, Author: person{ID: 3, Name: "ann"}, Title: "t"}
	for _, follow := range []bool{false, true, false} {
		for _, fav := range []bool{true, false, true} {
			c.Author.IsFollow, c.IsFavorite = follow, fav
			appendOne(t, m, c)
		}
	}
}

// A changed value must never be answered with the bytes of the old one.
func TestAChangedValueIsEncodedAgain(t *testing.T) {
	m := clips(16)
	c := clip{ID: 1, Author: person{ID: 2, Name: "before"}, Likes: 1}
	appendOne(t, m, c)
	c.Likes = 2
	appendOne(t, m, c)
	c.Author.Name = "after"
	appendOne(t, m, c)
}

func followFlag(p person, set [2]bool) (person, [2]bool) {
	was := p.IsFollow
	p.IsFollow = set[0]
	return p, [2]bool{was}
}

func TestOneFlagOrNone(t *testing.T) {
	people := New(4, func(p person) int64 { return p.ID }, 1, followFlag)
	appendOne(t, people, person{ID: 1, Name: "a", IsFollow: true})
	appendOne(t, people, person{ID: 1, Name: "a"})

	plain := New(4, func(p person) int64 { return p.ID }, 0, func(p person, _ [2]bool) (person, [2]bool) { return p, [2]bool{} })
	appendOne(t, plain, person{ID: 1, Name: "b", IsFollow: true})
}

func TestTheMemoStaysWithinItsBound(t *testing.T) {
	m := clips(64)
	for id := range int64(10000) {
		if _, err := m.Append(nil, clip{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for i := range m.shards {
		n += len(m.shards[i].entries)
	}
	if n > 64 {
		t.Fatalf("%d entries held, want at most 64", n)
	}
}

func TestAFlagThatIsNotWrittenIsAnError(t *testing.T) {
	type hidden struct {
		ID   int64 `json:"id"`
		Flag bool  `json:"-"`
	}
	m := New(4, func(h hidden) int64 { return h.ID }, 1, func(h hidden, set [2]bool) (hidden, [2]bool) {
		was := h.Flag
		h.Flag = set[0]
		return h, [2]bool{was}
	})
	if _, err := m.Append(nil, hidden{ID: 1}); err == nil {
		t.Fatal("a flag missing from the JSON was accepted")
	}
}

// Many goroutines on few ids, each value changing under them: run with
// -race; every answer must still be exact.
func TestConcurrentAppends(t *testing.T) {
	m := clips(8)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 3000 {
				c := randomClip(r, 12)
				got, err := m.Append(nil, c)
				want, _ := json.Marshal(c)
				if err != nil || string(got) != string(want) {
					errs <- fmt.Errorf("got %s (%v), want %s", got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func BenchmarkAppend(b *testing.B) {
	m := clips(1024)
	c := clip{ID: 1, Author: person{ID: 2, Name: "someone", Bio: "a few words about them"}, Likes: 42, Title: "a title of some length"}
	buf := make([]byte, 0, 1024)
	b.Run("memo", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			c.IsFavorite = i%2 == 0
			buf, _ = m.Append(buf[:0], c)
		}
	})
	b.Run("marshal", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			c.IsFavorite = i%2 == 0
			buf, _ = json.Marshal(c)
		}
	})
}
