package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/auth"
	"github.com/tiktok-lite/server/pkg/errcode"
)

// Users registers, logs in and shows profiles.
type Users struct {
	store     Store
	views     views
	tokens    TokenIssuer
	passwords PasswordHasher
	inv       Invalidator
	// dummyHash is checked against when a name is unknown, so that an
	// unknown name and a wrong password take the same time to answer.
	dummyHash string
}

// NewUsers returns the account service.
func NewUsers(store Store, reads Reads, present *Presenter, inv Invalidator, tokens TokenIssuer, passwords PasswordHasher) (*Users, error) {
	dummy, err := passwords.Hash("timing-equaliser")
	if err != nil {
		return nil, err
	}
	return &Users{store: store, views: views{reads, present}, tokens: tokens, passwords: passwords, inv: inv, dummyHash: dummy}, nil
}

// Session is the answer to register and login.
type Session struct {
	UserID int64
	Token  string
}

// Register creates an account and logs it in.
func (s *Users) Register(ctx context.Context, name, password string) (*Session, error) {
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(password); err != nil {
		return nil, err
	}
	hash, err := s.passwords.Hash(password)
	if err != nil {
		return nil, err
	}
	u := &model.User{Name: name, PasswordHash: hash}
	err = writeTx(ctx, s.store, s.inv, func(tx *model.Store) ([]string, error) {
		if err := tx.CreateUser(ctx, u); err != nil {
			return nil, err
		}
		return s.inv.UserKeys(u.ID), nil
	})
	if err != nil {
		if errors.Is(err, model.ErrDuplicate) {
			return nil, errcode.NameTaken
		}
		return nil, fmt.Errorf("register: %w", err)
	}
	return s.session(u.ID)
}

// Login checks the credentials and returns a fresh token. An unknown name
// and a wrong password give the same error.
func (s *Users) Login(ctx context.Context, name, password string) (*Session, error) {
	u, err := s.store.UserByName(ctx, loginName(name))
	if errors.Is(err, model.ErrNotFound) {
		if err := s.passwords.Check(s.dummyHash, password); err != nil && !errors.Is(err, auth.ErrMismatch) {
			return nil, fmt.Errorf("login: %w", err)
		}
		return nil, errcode.WrongCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if err := s.passwords.Check(u.PasswordHash, password); err != nil {
		if errors.Is(err, auth.ErrMismatch) {
			return nil, errcode.WrongCredentials
		}
		return nil, fmt.Errorf("login: %w", err)
	}
	return s.session(u.ID)
}

func (s *Users) session(userID int64) (*Session, error) {
	tok, err := s.tokens.Issue(userID)
	if err != nil {
		return nil, err
	}
	return &Session{UserID: userID, Token: tok}, nil
}

// Profile returns userID's profile as viewer sees it.
func (s *Users) Profile(ctx context.Context, viewer, userID int64) (*User, error) {
	users, err := s.views.users(ctx, viewer, []int64{userID})
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if len(users) == 0 {
		return nil, errcode.UserNotFound
	}
	return &users[0], nil
}
