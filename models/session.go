package models

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// A session record is one signed-in browser. A sign-in makes it; every
// company address the browser then enters through a hand-off shares it
// (each address's signed cookie names it), so ending it signs that browser
// out of every address at once. It counts while its session version is its
// user's, it was seen within SessionIdleLifetime and made within
// SessionLifetime
// (migrations/*/00027_user_sessions.sql). On PostgreSQL a request reads and
// ends only the rows of the user its scope names.

// SessionIdleLifetime is how long a session lasts unused: the session
// cookie's own lifetime. The owner's sweep function on PostgreSQL says the
// same 7 days.
const SessionIdleLifetime = 7 * 24 * time.Hour

// SessionLifetime is how long a session lasts however much it is used:
// then its person signs in again (and proves a second factor again), so a
// stolen cookie kept busy does not last for ever. The sweep function on
// PostgreSQL says the same 30 days.
const SessionLifetime = 30 * 24 * time.Hour

// SessionSeenResolution is how stale a session's last activity (and IP) may
// get before a request writes it again: most requests write nothing.
const SessionSeenResolution = 5 * time.Minute

// SessionListLimit is the most sessions Account → Sessions lists, newest
// activity first.
const SessionListLimit = 100

// userAgentMaxBytes bounds the User-Agent kept, as the column does.
const userAgentMaxBytes = 512

// ipMaxBytes bounds the address kept: IPv6 text is at most 45 bytes.
const ipMaxBytes = 45

// SessionMethod is how a browser signed in.
type SessionMethod string

// The sign-in methods: what the person proved, and with what.
const (
	SessionByPassword              SessionMethod = "password"
	SessionByPasswordAuthenticator SessionMethod = "password_totp"
	SessionByPasswordRecoveryCode  SessionMethod = "password_recovery_code"
	SessionByPasswordPasskey       SessionMethod = "password_passkey"
	SessionByPasskey               SessionMethod = "passkey"
	SessionBySSO                   SessionMethod = "sso"
)

// sessionMethodLabels name each method in a sentence ("Signed in with …").
var sessionMethodLabels = map[SessionMethod]string{
	SessionByPassword:              "password",
	SessionByPasswordAuthenticator: "password and authenticator app",
	SessionByPasswordRecoveryCode:  "password and recovery code",
	SessionByPasswordPasskey:       "password and passkey",
	SessionByPasskey:               "passkey",
	SessionBySSO:                   "single sign-on",
}

// Label names the method in a sentence ("Signed in with …").
func (m SessionMethod) Label() string {
	if label, ok := sessionMethodLabels[m]; ok {
		return label
	}
	return string(m)
}

// UserSession is one signed-in browser of a user.
//
// The json tags are the columns' names: the request frame (frame.go) reads
// these rows as PostgreSQL's to_json writes them.
type UserSession struct {
	ID             int64         `json:"id"`
	UserID         int64         `json:"user_id"`
	SessionVersion int64         `json:"session_version"`
	Method         SessionMethod `json:"method"`
	IP             string        `json:"ip"`
	UserAgent      string        `json:"user_agent"`
	CreatedAt      time.Time     `json:"created_at"`
	LastSeenAt     time.Time     `json:"last_seen_at"`
}

// SessionStart is what a sign-in knows of the browser signing in.
type SessionStart struct {
	Method    SessionMethod
	IP        string
	UserAgent string
}

// StartSession records a new signed-in browser for u, as of now. ctx must
// be scoped as u (on PostgreSQL the row is theirs alone).
func (s *Store) StartSession(ctx context.Context, u *User, start SessionStart, now time.Time) (*UserSession, error) {
	now = now.UTC()
	rec := &UserSession{
		UserID: u.ID, SessionVersion: u.SessionVersion, Method: start.Method,
		IP: clip(start.IP, ipMaxBytes), UserAgent: clip(start.UserAgent, userAgentMaxBytes),
		CreatedAt: now, LastSeenAt: now,
	}
	if rec.Method == "" {
		rec.Method = SessionByPassword
	}
	if err := s.conn(ctx).Create(rec).Error; err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	return rec, nil
}

// UserBySession loads a user together with their session record, in one
// statement: the request's whole check of its cookie. A session that is
// not the user's, ended, idle past its lifetime at now, or of an older
// session version is ErrNotFound, like a missing user. ctx must be scoped
// as the user.
func (s *Store) UserBySession(ctx context.Context, userID, sessionID int64, now time.Time) (*User, *UserSession, error) {
	var row struct {
		User             `gorm:"embedded"`
		SessionIP        string
		SessionMethod    SessionMethod
		SessionCreatedAt time.Time
		LastSeenAt       time.Time
	}
	err := s.conn(ctx).Table("users").
		Select("users.*, user_sessions.ip AS session_ip, user_sessions.method AS session_method, user_sessions.created_at AS session_created_at, user_sessions.last_seen_at").
		Joins("JOIN user_sessions ON user_sessions.user_id = users.id AND user_sessions.session_version = users.session_version").
		Where("users.id = ? AND user_sessions.id = ? AND user_sessions.last_seen_at > ? AND user_sessions.created_at > ?",
			userID, sessionID, now.UTC().Add(-SessionIdleLifetime), now.UTC().Add(-SessionLifetime)).
		Take(&row).Error
	if err != nil {
		return nil, nil, notFound(err, "load session")
	}
	u := row.User
	rec := &UserSession{ID: sessionID, UserID: u.ID, SessionVersion: u.SessionVersion, Method: row.SessionMethod,
		IP: row.SessionIP, CreatedAt: row.SessionCreatedAt, LastSeenAt: row.LastSeenAt}
	return &u, rec, nil
}

// NoteSessionSeen records the session's activity now, from ip, when what is
// recorded is older than SessionSeenResolution; otherwise it sends nothing.
func (s *Store) NoteSessionSeen(ctx context.Context, rec *UserSession, ip string, now time.Time) error {
	now = now.UTC()
	if now.Sub(rec.LastSeenAt) < SessionSeenResolution {
		return nil
	}
	err := s.conn(ctx).Model(&UserSession{}).
		Where("id = ? AND user_id = ? AND last_seen_at < ?", rec.ID, rec.UserID, now.Add(-SessionSeenResolution)).
		Updates(map[string]any{"last_seen_at": now, "ip": clip(ip, ipMaxBytes)}).Error
	if err != nil {
		return fmt.Errorf("note session seen: %w", err)
	}
	rec.LastSeenAt, rec.IP = now, clip(ip, ipMaxBytes)
	return nil
}

// SessionsOf lists the user's sessions that still count at now, newest
// activity first, at most SessionListLimit.
func (s *Store) SessionsOf(ctx context.Context, userID int64, now time.Time) ([]UserSession, error) {
	var list []UserSession
	err := s.conn(ctx).Where("user_id = ? AND last_seen_at > ? AND created_at > ?", userID, now.UTC().Add(-SessionIdleLifetime), now.UTC().Add(-SessionLifetime)).
		Where("session_version = (?)", s.conn(ctx).Model(&User{}).Select("session_version").Where("id = ?", userID)).
		Order("last_seen_at DESC, id DESC").Limit(SessionListLimit).Find(&list).Error
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// EndSession signs one of the user's browsers out, on every address it
// entered. Another user's session, or one already ended, is ErrNotFound.
func (s *Store) EndSession(ctx context.Context, userID, sessionID int64) error {
	res := s.conn(ctx).Where("id = ? AND user_id = ?", sessionID, userID).Delete(&UserSession{})
	if res.Error != nil {
		return fmt.Errorf("end session: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("end session: %w", ErrNotFound)
	}
	return nil
}

// EndOtherSessions signs every browser of u out but the one whose session
// is keep, and returns how many it ended. The kept session takes u's
// session version, so a browser that has just changed the password (which
// raised the version, ending every session) stays signed in on every
// address it entered. u must be as just loaded; ctx scoped as u.
func (s *Store) EndOtherSessions(ctx context.Context, u *User, keep int64) (int64, error) {
	var ended int64
	err := s.Tx(ctx, func(tx *Store) error {
		err := tx.conn(ctx).Model(&UserSession{}).Where("id = ? AND user_id = ?", keep, u.ID).
			Update("session_version", u.SessionVersion).Error
		if err != nil {
			return err
		}
		res := tx.conn(ctx).Where("user_id = ? AND id <> ?", u.ID, keep).Delete(&UserSession{})
		ended = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("end other sessions: %w", err)
	}
	return ended, nil
}

// endAllSessionRecords forgets every session record of the user (the
// version raised beside it has ended them already).
func (s *Store) endAllSessionRecords(ctx context.Context, userID int64) error {
	if err := s.conn(ctx).Where("user_id = ?", userID).Delete(&UserSession{}).Error; err != nil {
		return fmt.Errorf("end session records: %w", err)
	}
	return nil
}

// SweepSessions forgets sessions idle past their lifetime, anyone's, which
// no cookie can use any more, so the table holds about a week of sign-ins.
// On PostgreSQL the application sees only its scope's rows, and a function
// of the owner's deletes the idle ones and nothing else.
func (s *Store) SweepSessions(ctx context.Context) (int64, error) {
	if s.Dialect() == Postgres {
		var swept int64
		if err := s.conn(ctx).Raw("SELECT canopy_sweep_user_sessions()").Scan(&swept).Error; err != nil {
			return 0, fmt.Errorf("sweep sessions: %w", err)
		}
		return swept, nil
	}
	now := s.db.NowFunc().UTC()
	idle := s.conn(ctx).Model(&UserSession{}).Select("id").
		Where("last_seen_at < ? OR created_at < ?", now.Add(-SessionIdleLifetime), now.Add(-SessionLifetime)).Limit(10000)
	res := s.conn(ctx).Where("id IN (?)", idle).Delete(&UserSession{})
	if res.Error != nil {
		return 0, fmt.Errorf("sweep sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// clip keeps at most n bytes of s, whole characters only, without control
// characters.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
