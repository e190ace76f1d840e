package service

import (
	"time"

	"go.uber.org/zap"
)

// Deps is what the services are built on. main builds it from the
// configuration, and every test that needs the whole service layer builds
// it too, so the graph is written out once, here.
type Deps struct {
	Store     Store
	Reads     Reads       // the cache, or the store itself
	Inv       Invalidator // the same cache
	Presenter *Presenter
	Media     MediaStore
	Covers    CoverMaker // nil: new videos get the default cover
	// Sniff judges an upload by its first bytes (media.SniffType).
	Sniff        func(head []byte) (contentType, ext string, ok bool)
	Quota        Quota
	RepeatWindow time.Duration // see NewInteractions
	Tokens       TokenIssuer
	Passwords    PasswordHasher
	Log          *zap.Logger
}

// Services are the app's four services.
type Services struct {
	Users        *Users
	Videos       *Videos
	Interactions *Interactions
	Social       *Social
}

// New builds the services over d.
func New(d Deps) (*Services, error) {
	users, err := NewUsers(d.Store, d.Reads, d.Presenter, d.Inv, d.Tokens, d.Passwords)
	if err != nil {
		return nil, err
	}
	return &Services{
		Users:        users,
		Videos:       NewVideos(d.Store, d.Reads, d.Presenter, d.Media, d.Covers, d.Sniff, d.Inv, d.Quota, d.Log),
		Interactions: NewInteractions(d.Store, d.Reads, d.Presenter, d.Inv, d.RepeatWindow),
		Social:       NewSocial(d.Store, d.Reads, d.Presenter, d.Inv),
	}, nil
}
