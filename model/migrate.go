package model

import (
	"errors"
	"fmt"

	"github.com/go-gormigrate/gormigrate/v2"
	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"
)

// Migrate brings the schema to the latest version. Each migration is a
// frozen snapshot: it declares its own structs instead of using the live
// models, so that editing a model later never rewrites history.
func Migrate(db *gorm.DB) error {
	// On the primary only: with database.replicas a read outside a
	// transaction goes to a replica, which may not yet have the
	// schema_migrations rows the primary has just written (or the table).
	db = db.Clauses(dbresolver.Write).Session(&gorm.Session{})
	if db.Dialector.Name() == "mysql" {
		// utf8mb4_bin: full Unicode (emoji in titles and chat) and byte-exact
		// comparison, so names compare the same way as on SQLite.
		// Session makes the setting a safe base: without it every chained
		// call (gormigrate sets its own table) would mutate one statement.
		db = db.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin").Session(&gorm.Session{})
	}
	m := gormigrate.New(db, &gormigrate.Options{
		TableName:      "schema_migrations",
		IDColumnName:   "id",
		IDColumnSize:   64,
		UseTransaction: false, // MySQL commits DDL implicitly; each step is idempotent instead
	}, migrations())
	if err := m.Migrate(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// latestMigration is the ID of the newest migration.
func latestMigration() string {
	all := migrations()
	return all[len(all)-1].ID
}

func migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		{
			ID: "2026112401_initial_schema",
			Migrate: func(tx *gorm.DB) error {
				type User struct {
					ID              int64  `gorm:"primaryKey;autoIncrement"`
					Name            string `gorm:"type:varchar(32);not null;uniqueIndex:uk_users_name"`
					PasswordHash    string `gorm:"type:varchar(100);not null"`
					Avatar          string `gorm:"type:varchar(255);not null;default:''"`
					BackgroundImage string `gorm:"type:varchar(255);not null;default:''"`
					Signature       string `gorm:"type:varchar(255);not null;default:''"`
					FollowCount     int64  `gorm:"not null;default:0"`
					FollowerCount   int64  `gorm:"not null;default:0"`
					TotalFavorited  int64  `gorm:"not null;default:0"`
					WorkCount       int64  `gorm:"not null;default:0"`
					FavoriteCount   int64  `gorm:"not null;default:0"`
					CreatedAt       int64  `gorm:"not null;autoCreateTime:milli"`
				}
				type Video struct {
					ID            int64  `gorm:"primaryKey;autoIncrement"`
					AuthorID      int64  `gorm:"not null;index:idx_videos_author_time,priority:1"`
					PlayKey       string `gorm:"type:varchar(255);not null"`
					CoverKey      string `gorm:"type:varchar(255);not null"`
					Title         string `gorm:"type:varchar(100);not null"`
					FavoriteCount int64  `gorm:"not null;default:0"`
					CommentCount  int64  `gorm:"not null;default:0"`
					// Unique so that the feed's time cursor never skips a video
					// that shares its millisecond with another.
					PublishedAt int64 `gorm:"not null;uniqueIndex:uk_videos_published_at;index:idx_videos_author_time,priority:2"`
				}
				type Favorite struct {
					ID        int64 `gorm:"primaryKey;autoIncrement"`
					UserID    int64 `gorm:"not null;uniqueIndex:uk_favorites_user_video,priority:1;index:idx_favorites_user_time,priority:1"`
					VideoID   int64 `gorm:"not null;uniqueIndex:uk_favorites_user_video,priority:2;index:idx_favorites_video"`
					CreatedAt int64 `gorm:"not null;index:idx_favorites_user_time,priority:2"`
				}
				type Comment struct {
					ID        int64  `gorm:"primaryKey;autoIncrement"`
					VideoID   int64  `gorm:"not null;index:idx_comments_video_id,priority:1"`
					UserID    int64  `gorm:"not null"`
					Content   string `gorm:"type:varchar(500);not null"`
					CreatedAt int64  `gorm:"not null"`
				}
				type Follow struct {
					ID        int64 `gorm:"primaryKey;autoIncrement"`
					UserID    int64 `gorm:"not null;uniqueIndex:uk_follows_pair,priority:1;index:idx_follows_user_time,priority:1"`
					ToUserID  int64 `gorm:"not null;uniqueIndex:uk_follows_pair,priority:2;index:idx_follows_to_time,priority:1"`
					CreatedAt int64 `gorm:"not null;index:idx_follows_user_time,priority:2;index:idx_follows_to_time,priority:2"`
				}
				type Conversation struct {
					UserLo        int64 `gorm:"primaryKey;autoIncrement:false"`
					UserHi        int64 `gorm:"primaryKey;autoIncrement:false;index:idx_conversations_hi"`
					LastTime      int64 `gorm:"not null;default:0"`
					LastMessageID int64 `gorm:"not null;default:0"`
				}
				type Message struct {
					ID         int64  `gorm:"primaryKey;autoIncrement"`
					UserLo     int64  `gorm:"not null;uniqueIndex:uk_messages_conv_time,priority:1"`
					UserHi     int64  `gorm:"not null;uniqueIndex:uk_messages_conv_time,priority:2"`
					CreateTime int64  `gorm:"not null;uniqueIndex:uk_messages_conv_time,priority:3"`
					FromUserID int64  `gorm:"not null"`
					ToUserID   int64  `gorm:"not null"`
					Content    string `gorm:"type:varchar(500);not null"`
				}
				return tx.AutoMigrate(&User{}, &Video{}, &Favorite{}, &Comment{}, &Follow{}, &Conversation{}, &Message{})
			},
			Rollback: func(tx *gorm.DB) error {
				return tx.Migrator().DropTable("messages", "conversations", "follows", "comments", "favorites", "videos", "users")
			},
		},
		{
			// What each user keeps stored, for the per-user quota. Videos
			// published before it count as 0 bytes.
			ID: "2026120101_stored_bytes",
			Migrate: func(tx *gorm.DB) error {
				type User struct {
					StoredBytes int64 `gorm:"not null;default:0"`
				}
				type Video struct {
					SizeBytes int64 `gorm:"not null;default:0"`
				}
				for _, col := range []struct {
					model any
					name  string
				}{{&User{}, "StoredBytes"}, {&Video{}, "SizeBytes"}} {
					if !tx.Migrator().HasColumn(col.model, col.name) {
						if err := tx.Migrator().AddColumn(col.model, col.name); err != nil {
							return err
						}
					}
				}
				return nil
			},
			Rollback: func(tx *gorm.DB) error {
				return errors.Join(tx.Migrator().DropColumn("users", "stored_bytes"), tx.Migrator().DropColumn("videos", "size_bytes"))
			},
		},
		{
			// Names are stored in NFC from now on; an older name typed in
			// another form (NFD "café") is rewritten to it unless that
			// would collide with an account that already has the NFC form.
			ID:      "2026120102_nfc_names",
			Migrate: composeNames,
		},
		{
			// The cache keys each write made stale, written in the write's
			// own transaction and removed once deleted from Redis: a crash
			// between the commit and the delete leaves them here to be
			// deleted at the next start (see outbox.go).
			ID: "2026120201_cache_outbox",
			Migrate: func(tx *gorm.DB) error {
				type CacheOutbox struct {
					ID        int64  `gorm:"primaryKey;autoIncrement"`
					Keys      string `gorm:"type:mediumtext;not null"`
					CreatedAt int64  `gorm:"not null;index:idx_cache_outbox_created"`
				}
				return tx.Table("cache_outbox").AutoMigrate(&CacheOutbox{})
			},
			Rollback: func(tx *gorm.DB) error { return tx.Migrator().DropTable("cache_outbox") },
		},
	}
}

// composeNames rewrites every user name to NFC where the result is free.
func composeNames(tx *gorm.DB) error {
	type row struct {
		ID   int64
		Name string
	}
	for after := int64(0); ; {
		var rows []row
		if err := tx.Table("users").Select("id", "name").Where("id > ?", after).Order("id").Limit(1000).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		for _, r := range rows {
			composed := norm.NFC.String(r.Name)
			if composed == r.Name {
				continue
			}
			var taken int64
			if err := tx.Table("users").Where("name = ?", composed).Count(&taken).Error; err != nil {
				return err
			}
			if taken > 0 {
				continue // both accounts keep their names; see docs/architecture.md, "Names and texts"
			}
			if err := tx.Table("users").Where("id = ?", r.ID).Update("name", composed).Error; err != nil {
				return err
			}
		}
		after = rows[len(rows)-1].ID
	}
}
