package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/auth"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/storage"
)

// The media every seeded video points at: written once, shared by all.
const (
	samplePlayKey  = "videos/bench/sample.mp4"
	sampleCoverKey = "covers/bench/cover.jpg"
)

// dataset is what the seed wrote, for the steps after it.
type dataset struct {
	Password string     `json:"password"`
	Users    []seedUser `json:"users"`
	Videos   []seedVid  `json:"videos"`
	// Popular lists video ids by popularity, most liked first; likes and
	// comments were drawn with weight 1/(rank+10), and the comment-list
	// requests are drawn the same way.
	Popular []int64    `json:"popular"`
	Follows [][2]int64 `json:"follows"`
}

type seedUser struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type seedVid struct {
	ID          int64 `json:"id"`
	AuthorID    int64 `json:"author_id"`
	PublishedAt int64 `json:"published_at"`
}

type seedSize struct {
	users, videos, likes, follows, mutual, comments, days, workers int
}

func runSeed(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	out := fs.String("out", "", "file to write the data set description to (required)")
	var n seedSize
	fs.IntVar(&n.users, "users", 1000, "users")
	fs.IntVar(&n.videos, "videos", 3000, "videos")
	fs.IntVar(&n.likes, "likes", 20000, "likes")
	fs.IntVar(&n.follows, "follows", 5000, "follows, mutual pairs included")
	fs.IntVar(&n.mutual, "mutual", 1000, "follows that answer an earlier one (mutual pairs)")
	fs.IntVar(&n.comments, "comments", 10000, "comments")
	fs.IntVar(&n.days, "days", 30, "days the videos are spread over")
	fs.IntVar(&n.workers, "workers", 8, "parallel writers")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("seed: -out is required")
	}
	if n.users < 2 || n.videos < 1 || n.mutual > n.follows || n.follows > n.users*(n.users-1)/2 || n.likes > n.users*n.videos {
		return fmt.Errorf("seed: sizes do not fit together")
	}
	cfg, store, closeDB, err := openStore(getenv)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := writeSampleMedia(ctx, cfg.Storage.Local.Dir); err != nil {
		return err
	}
	s := &seeder{store: store, rng: rand.New(rand.NewPCG(*seed, 0x7e57)), size: n, stdout: stdout}
	ds, err := s.run(ctx)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(ds)
	if err != nil {
		return fmt.Errorf("seed: encode data set: %w", err)
	}
	return os.WriteFile(*out, raw, 0o644)
}

// openStore opens and migrates the configured database, as the server does.
func openStore(getenv func(string) string) (*config.Config, *model.Store, func(), error) {
	cfg, err := config.Load("", getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := model.Open(cfg.Database, zap.NewNop())
	if err != nil {
		return nil, nil, nil, err
	}
	if err := model.Migrate(db); err != nil {
		if cerr := model.Close(db); cerr != nil {
			return nil, nil, nil, fmt.Errorf("%w (close: %v)", err, cerr)
		}
		return nil, nil, nil, err
	}
	return cfg, model.NewStore(db), func() {
		if err := model.Close(db); err != nil {
			fmt.Fprintln(os.Stderr, "close database:", err)
		}
	}, nil
}

// writeSampleMedia stores the sample clip and the default cover through
// the local storage backend, under the keys every seeded video uses.
func writeSampleMedia(ctx context.Context, dir string) error {
	local, err := storage.NewLocal(dir, "http://localhost")
	if err != nil {
		return err
	}
	for _, obj := range []struct {
		key, contentType string
		body             []byte
	}{
		{samplePlayKey, "video/mp4", media.SampleVideo()},
		{sampleCoverKey, "image/jpeg", media.DefaultCover()},
	} {
		if err := local.Put(ctx, obj.key, bytes.NewReader(obj.body), int64(len(obj.body)), obj.contentType); err != nil {
			return fmt.Errorf("store %s: %w", filepath.Base(obj.key), err)
		}
	}
	return nil
}

type seeder struct {
	store  *model.Store
	rng    *rand.Rand
	size   seedSize
	stdout io.Writer
}

func (s *seeder) run(ctx context.Context) (*dataset, error) {
	start := time.Now()
	n := s.size
	// One hash for every account: bcrypt is slow on purpose, and thousands
	// of them would dominate the seed.
	const password = "bench-password"
	hash, err := auth.NewPasswords(10).Hash(password)
	if err != nil {
		return nil, err
	}
	ds := &dataset{Password: password, Users: make([]seedUser, n.users), Videos: make([]seedVid, n.videos)}

	err = s.phase(ctx, "users", n.users, func(ctx context.Context, i int) error {
		u := &model.User{Name: fmt.Sprintf("bench%05d", i), PasswordHash: hash}
		if err := s.store.CreateUser(ctx, u); err != nil {
			return err
		}
		ds.Users[i] = seedUser{ID: u.ID, Name: u.Name}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// Authors: a few prolific, most with one or two videos or none.
	creators := newPowerLaw(n.users, 5)
	creatorOf := s.rng.Perm(n.users)
	step := int64(n.days) * 24 * 3600 * 1000 / int64(n.videos)
	first := time.Now().UnixMilli() - int64(n.days)*24*3600*1000
	for i := range ds.Videos {
		ds.Videos[i] = seedVid{
			AuthorID:    ds.Users[creatorOf[creators.draw(s.rng)]].ID,
			PublishedAt: first + int64(i)*step + s.rng.Int64N(step/2+1),
		}
	}
	err = s.phase(ctx, "videos", n.videos, func(ctx context.Context, i int) error {
		v := &model.Video{AuthorID: ds.Videos[i].AuthorID, PlayKey: samplePlayKey, CoverKey: sampleCoverKey,
			Title: fmt.Sprintf("Bench clip %d", i+1), PublishedAt: ds.Videos[i].PublishedAt}
		if err := s.store.Tx(ctx, func(tx *model.Store) error { return tx.CreateVideo(ctx, v) }); err != nil {
			return err
		}
		ds.Videos[i].ID, ds.Videos[i].PublishedAt = v.ID, v.PublishedAt
		return nil
	})
	if err != nil {
		return nil, err
	}

	// Popularity: a permutation of the videos, drawn with weight
	// 1/(rank+10): the top clip gets about 1.7% of all likes and comments.
	popular := newPowerLaw(n.videos, 10)
	rank := s.rng.Perm(n.videos)
	ds.Popular = make([]int64, n.videos)
	for r, vi := range rank {
		ds.Popular[r] = ds.Videos[vi].ID
	}
	likes := make([][2]int, 0, n.likes)
	seen := make(map[[2]int]bool, n.likes)
	for len(likes) < n.likes {
		p := [2]int{s.rng.IntN(n.users), rank[popular.draw(s.rng)]}
		if !seen[p] {
			seen[p] = true
			likes = append(likes, p)
		}
	}
	err = s.phase(ctx, "likes", len(likes), func(ctx context.Context, i int) error {
		u, v := ds.Users[likes[i][0]], ds.Videos[likes[i][1]]
		return s.store.Tx(ctx, func(tx *model.Store) error {
			_, err := tx.Like(ctx, u.ID, &model.Video{ID: v.ID, AuthorID: v.AuthorID})
			return err
		})
	})
	if err != nil {
		return nil, err
	}

	// Follows: followees drawn by a power law (a few stars), then some
	// followed back, which makes the mutual pairs (friends).
	stars := newPowerLaw(n.users, 10)
	starOf := s.rng.Perm(n.users)
	follows := make([][2]int, 0, n.follows)
	has := make(map[[2]int]bool, n.follows)
	add := func(p [2]int) {
		if p[0] != p[1] && !has[p] {
			has[p] = true
			follows = append(follows, p)
		}
	}
	for len(follows) < n.follows-n.mutual {
		add([2]int{s.rng.IntN(n.users), starOf[stars.draw(s.rng)]})
	}
	for tries := 0; len(follows) < n.follows; tries++ {
		if tries < 50*n.follows {
			p := follows[s.rng.IntN(len(follows))]
			add([2]int{p[1], p[0]})
		} else {
			add([2]int{s.rng.IntN(n.users), s.rng.IntN(n.users)})
		}
	}
	ds.Follows = make([][2]int64, len(follows))
	for i, p := range follows {
		ds.Follows[i] = [2]int64{ds.Users[p[0]].ID, ds.Users[p[1]].ID}
	}
	err = s.phase(ctx, "follows", len(follows), func(ctx context.Context, i int) error {
		return s.store.Tx(ctx, func(tx *model.Store) error {
			_, err := tx.FollowUser(ctx, ds.Follows[i][0], ds.Follows[i][1])
			return err
		})
	})
	if err != nil {
		return nil, err
	}

	now := time.Now().UnixMilli()
	comments := make([]*model.Comment, n.comments)
	for i := range comments {
		v := ds.Videos[rank[popular.draw(s.rng)]]
		comments[i] = &model.Comment{
			VideoID: v.ID, UserID: ds.Users[s.rng.IntN(n.users)].ID,
			Content:   commentText(s.rng),
			CreatedAt: v.PublishedAt + 1 + s.rng.Int64N(max(now-v.PublishedAt-1, 1)),
		}
	}
	err = s.phase(ctx, "comments", len(comments), func(ctx context.Context, i int) error {
		return s.store.Tx(ctx, func(tx *model.Store) error { return tx.AddComment(ctx, comments[i]) })
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(s.stdout, "seed: done in %s\n", time.Since(start).Round(time.Millisecond))
	return ds, nil
}

// phase runs fn for 0..n-1 on the configured number of writers.
func (s *seeder) phase(ctx context.Context, name string, n int, fn func(ctx context.Context, i int) error) error {
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	next := make(chan int)
	for range s.size.workers {
		g.Go(func() error {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					return fmt.Errorf("seed %s #%d: %w", name, i, err)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(s.stdout, "seed: %6d %-8s in %6s (%.0f/s)\n", n, name, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return nil
}

func commentWords() []string {
	return []string{"nice", "love", "this", "so", "funny", "wow", "where", "is", "that", "again",
		"great", "video", "the", "music", "cat", "dance", "please", "more", "best", "today"}
}

func commentText(rng *rand.Rand) string {
	var b bytes.Buffer
	words := commentWords()
	for w := 2 + rng.IntN(10); w > 0; w-- {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}

// powerLaw draws ranks 0..n-1 with weight 1/(rank+offset): Zipf with
// exponent 1, flattened at the top by offset.
type powerLaw struct{ cdf []float64 }

func newPowerLaw(n int, offset float64) powerLaw {
	cdf := make([]float64, n)
	sum := 0.0
	for i := range cdf {
		sum += 1 / (float64(i) + offset)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return powerLaw{cdf: cdf}
}

func (p powerLaw) draw(rng *rand.Rand) int {
	x := rng.Float64()
	i := sort.SearchFloat64s(p.cdf, x)
	return min(i, len(p.cdf)-1)
}
