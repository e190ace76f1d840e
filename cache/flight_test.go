package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tiktok-lite/server/service"
)

// TestAReaderAfterAWriteDoesNotJoinALoadFromBefore: a load of a comment
// list is held at a barrier after it has read the database; a comment is
// then added, and the writer reads the list again. That read must not
// share the held load (singleflight), whose value predates the comment.
func TestAReaderAfterAWriteDoesNotJoinALoadFromBefore(t *testing.T) {
	o := fixture(t)
	o.local = time.Hour
	n := newNode(t, o)
	w := seed(t, n)
	waitLocal(t, n, o)
	ctx := context.Background()
	video := w.videos[2].ID // no comments, and its list not read yet

	loaded, release := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	armed.Store(true)
	must(t, n.db.Callback().Query().After("gorm:query").Register("test:barrier", func(db *gorm.DB) {
		if db.Statement.Table == "comments" && armed.CompareAndSwap(true, false) {
			close(loaded)
			<-release
		}
	}))
	list := func(out chan<- []service.Comment) {
		l, err := n.inter.CommentList(ctx, 0, video)
		if err != nil {
			t.Error(err)
		}
		out <- l
	}
	before, after := make(chan []service.Comment, 1), make(chan []service.Comment, 1)
	go list(before)
	<-loaded // the first load has read an empty list and waits
	if _, err := n.inter.AddComment(ctx, w.users[1], video, "after the load began"); err != nil {
		t.Fatal(err)
	}
	go list(after)
	time.Sleep(200 * time.Millisecond) // long enough to join the held load, if it may
	close(release)
	if l := <-after; len(l) != 1 {
		t.Fatalf("the writer's read after its comment has %d comments, want 1", len(l))
	}
	<-before
}
