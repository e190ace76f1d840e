package model

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Message is one chat line. CreateTime (Unix milliseconds) is unique and
// strictly increasing within a conversation, which is what lets a poller
// use it as a cursor.
type Message struct {
	ID         int64
	UserLo     int64 // the smaller of the two user ids: the conversation key
	UserHi     int64
	CreateTime int64
	FromUserID int64
	ToUserID   int64
	Content    string
}

// Conversation is the per-pair row that serialises senders and remembers
// the latest message for the friend list.
type Conversation struct {
	UserLo        int64
	UserHi        int64
	LastTime      int64
	LastMessageID int64
}

func pair(a, b int64) (lo, hi int64) {
	if a < b {
		return a, b
	}
	return b, a
}

// SendMessage stores m with a CreateTime of now, or one past the
// conversation's last message when that is not earlier. Updating the
// conversation row first takes its row lock, so two senders in one
// conversation commit one after the other and their times are ordered the
// way their rows become visible: a poller that has seen time T can never
// later find a new message at or below T. Call it inside Tx.
func (s *Store) SendMessage(ctx context.Context, m *Message) error {
	m.UserLo, m.UserHi = pair(m.FromUserID, m.ToUserID)
	db := s.db.WithContext(ctx)
	if _, err := s.insertOnce(ctx, "conversations", []string{"user_lo", "user_hi", "last_time", "last_message_id"}, m.UserLo, m.UserHi, 0, 0); err != nil {
		return fmt.Errorf("open conversation: %w", err)
	}
	var conv Conversation
	now := s.nowMs()
	err := db.Model(&Conversation{}).Where("user_lo = ? AND user_hi = ?", m.UserLo, m.UserHi).
		Update("last_time", gorm.Expr("CASE WHEN last_time + 1 > ? THEN last_time + 1 ELSE ? END", now, now)).Error
	if err != nil {
		return fmt.Errorf("stamp conversation: %w", translate(err))
	}
	if err := db.Where("user_lo = ? AND user_hi = ?", m.UserLo, m.UserHi).Take(&conv).Error; err != nil {
		return fmt.Errorf("read conversation: %w", translate(err))
	}
	m.CreateTime = conv.LastTime
	if err := db.Create(m).Error; err != nil {
		return fmt.Errorf("insert message: %w", translate(err))
	}
	err = db.Model(&Conversation{}).Where("user_lo = ? AND user_hi = ?", m.UserLo, m.UserHi).
		Update("last_message_id", m.ID).Error
	if err != nil {
		return fmt.Errorf("link last message: %w", translate(err))
	}
	return nil
}

// RecentMessages returns the latest limit messages between a and b, both
// directions, oldest first.
func (s *Store) RecentMessages(ctx context.Context, a, b int64, limit int) ([]*Message, error) {
	lo, hi := pair(a, b)
	var rows []*Message
	err := s.primary(ctx).Where("user_lo = ? AND user_hi = ?", lo, hi).
		Order("create_time DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("recent messages: %w", translate(err))
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, nil
}

// MessagesAfter returns the messages from fromID to toID created strictly
// after afterMs, oldest first, at most limit.
func (s *Store) MessagesAfter(ctx context.Context, fromID, toID, afterMs int64, limit int) ([]*Message, error) {
	lo, hi := pair(fromID, toID)
	var rows []*Message
	err := s.primary(ctx).
		Where("user_lo = ? AND user_hi = ? AND create_time > ? AND from_user_id = ?", lo, hi, afterMs, fromID).
		Order("create_time ASC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("messages after: %w", translate(err))
	}
	return rows, nil
}

// LatestMessages returns the newest message between userID and each of
// others that has one, keyed by the other user's id, in two queries.
func (s *Store) LatestMessages(ctx context.Context, userID int64, others []int64) (map[int64]*Message, error) {
	out := make(map[int64]*Message, len(others))
	if len(others) == 0 {
		return out, nil
	}
	var convs []Conversation
	ids := uniqueIDs(others)
	err := s.primary(ctx).
		Where("((user_lo = ? AND user_hi IN ?) OR (user_hi = ? AND user_lo IN ?)) AND last_message_id > 0", userID, ids, userID, ids).
		Find(&convs).Error
	if err != nil {
		return nil, fmt.Errorf("conversations: %w", translate(err))
	}
	if len(convs) == 0 {
		return out, nil
	}
	msgIDs := make([]int64, 0, len(convs))
	for _, c := range convs {
		msgIDs = append(msgIDs, c.LastMessageID)
	}
	var msgs []*Message
	if err := s.primary(ctx).Where("id IN ?", msgIDs).Find(&msgs).Error; err != nil {
		return nil, fmt.Errorf("latest messages: %w", translate(err))
	}
	for _, m := range msgs {
		other := m.UserLo
		if other == userID {
			other = m.UserHi
		}
		out[other] = m
	}
	return out, nil
}
