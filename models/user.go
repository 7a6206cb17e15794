package models

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"gorm.io/gorm"
)

// UserStatus tells whether a person can sign in.
type UserStatus string

// The user statuses.
const (
	UserActive   UserStatus = "active"
	UserInvited  UserStatus = "invited" // has an invitation but no password yet
	UserDisabled UserStatus = "disabled"
)

// User is one person with one set of credentials for all their tenants.
//
// The json tags are the columns' names: the request frame (frame.go) reads
// these rows as PostgreSQL's to_json writes them.
type User struct {
	ID             int64      `json:"id"`
	Email          string     `json:"email"`
	FirstName      string     `json:"first_name"`
	LastName       string     `json:"last_name"`
	Status         UserStatus `json:"status"`
	SessionVersion int64      `json:"session_version"`
	LastTenantID   *int64     `json:"last_tenant_id"`
	// TwoFactorEnabled: the person has a second factor (an authenticator
	// app or a passkey), kept by the store with the factors themselves.
	TwoFactorEnabled bool      `json:"two_factor_enabled"`
	TimeZone         string    `json:"time_zone"` // IANA zone for dates, "" for the company's (profile.go)
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Name is how the user is addressed in the interface.
func (u *User) Name() string {
	if name := strings.TrimSpace(u.FirstName + " " + u.LastName); name != "" {
		return name
	}
	return u.Email
}

// Initials are shown in the avatar.
func (u *User) Initials() string {
	var b strings.Builder
	for _, part := range []string{u.FirstName, u.LastName} {
		if r := []rune(strings.TrimSpace(part)); len(r) > 0 {
			b.WriteString(strings.ToUpper(string(r[0])))
		}
	}
	if b.Len() == 0 && u.Email != "" {
		return strings.ToUpper(u.Email[:1])
	}
	return b.String()
}

// NormalizeEmail trims and lowercases an address so one person has one account.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateEmail returns a message fit to show beside the field, or "".
// Only a bare address is accepted, not "Name <address>".
func ValidateEmail(s string) string {
	if s == "" {
		return "Enter an email address."
	}
	if len(s) > 254 {
		return "Use at most 254 characters."
	}
	addr, err := mail.ParseAddress(s)
	at := strings.LastIndex(s, "@")
	if err != nil || addr.Address != s || at < 1 || !strings.Contains(s[at+1:], ".") {
		return "Enter a valid email address, like name@example.com."
	}
	return ""
}

// NewUser describes a person to create.
type NewUser struct {
	Email     string
	FirstName string
	LastName  string
	Password  string
}

func (n *NewUser) validate() FieldErrors {
	n.Email = NormalizeEmail(n.Email)
	errs := FieldErrors{}
	validatePersonName(errs, &n.FirstName, &n.LastName, true, false)
	if msg := ValidateEmail(n.Email); msg != "" {
		errs["email"] = msg
	}
	if msg := ValidatePassword(n.Password); msg != "" {
		errs["password"] = msg
	}
	return errs
}

// CreateUser adds an active user who can sign in with the given password.
// A taken email is reported beside the email field.
func (s *Store) CreateUser(ctx context.Context, n NewUser) (*User, error) {
	if err := n.validate().Err(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	return s.createUserWithHash(ctx, n, hash)
}

func (s *Store) createUserWithHash(ctx context.Context, n NewUser, hash string) (*User, error) {
	u, err := s.insertUser(ctx, n, hash)
	if violatesUnique(err, "users_email_key") {
		return nil, FieldErrors{"email": "An account with this email already exists."}
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// insertUser writes an active user and their password hash ("" for none).
// On Postgres the application may neither insert users nor touch hashes
// itself (migrations/postgres/00017_database_wall.sql), so a function of
// the owner's does both and returns the row.
func (s *Store) insertUser(ctx context.Context, n NewUser, hash string) (*User, error) {
	u := &User{Email: n.Email, FirstName: n.FirstName, LastName: n.LastName, Status: UserActive, SessionVersion: 1}
	if s.Dialect() == Postgres {
		res := s.conn(ctx).Raw("SELECT * FROM canopy_create_user(?, ?, ?, ?)", n.Email, n.FirstName, n.LastName, hash).Scan(u)
		return u, res.Error
	}
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Create(u).Error; err != nil {
			return err
		}
		if hash == "" {
			return nil
		}
		return tx.conn(ctx).Create(&userPassword{UserID: u.ID, Hash: hash, UpdatedAt: u.CreatedAt}).Error
	})
	return u, err
}

// UserByID loads a user, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	var u User
	err := s.conn(ctx).Where("id = ?", id).Take(&u).Error
	return &u, notFound(err, "load user")
}

// UserByEmail loads a user by address (any case), or ErrNotFound. It is
// for flows that start from an address someone typed or an invitation
// names; on Postgres it is the one door to a user's row by email, a
// function that returns exactly that person, whoever the request is.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	email = NormalizeEmail(searchable(email))
	var u User
	q := s.conn(ctx).Table("users").Where("lower(email) = ?", email)
	if s.Dialect() == Postgres {
		q = s.conn(ctx).Table("canopy_user_by_email(?) AS users", email)
	}
	err := q.Take(&u).Error
	return &u, notFound(err, "load user by email")
}

// userPassword is a user's password hash, kept apart from the users table:
// on Postgres the application role cannot read the table at all
// (migrations/postgres/00017_database_wall.sql).
type userPassword struct {
	UserID    int64 `gorm:"primaryKey"`
	Hash      string
	UpdatedAt time.Time
}

// passwordOf is the id and password hash of the account with this email,
// or ErrNotFound (no such account, or one without a password). On Postgres
// a function returns that one row; nothing can list the hashes.
func (s *Store) passwordOf(ctx context.Context, email string) (userPassword, error) {
	email = NormalizeEmail(searchable(email))
	var p userPassword
	q := s.conn(ctx).Table("users").Select("users.id AS user_id, user_passwords.hash").
		Joins("JOIN user_passwords ON user_passwords.user_id = users.id").Where("lower(users.email) = ?", email)
	if s.Dialect() == Postgres {
		q = s.conn(ctx).Raw("SELECT user_id, hash FROM canopy_password_hash(?)", email)
	}
	res := q.Scan(&p)
	if res.Error == nil && res.RowsAffected == 0 {
		return p, fmt.Errorf("load password: %w", ErrNotFound)
	}
	return p, notFound(res.Error, "load password")
}

// replacePassword swaps a user's hash for a new one, only from the hash
// just checked: a change that landed meanwhile (another tab, another
// device) makes this one report false rather than be overwritten. Checking
// the password is the reason the database cannot know, so it runs as the
// person: on Postgres only the scope's own user's hash can be replaced.
func (s *Store) replacePassword(ctx context.Context, userID int64, old, hash string) (bool, error) {
	var replaced bool
	err := s.Within(ctx, Scope{UserID: userID}, func(ctx context.Context, tx *Store) error {
		if tx.Dialect() == Postgres {
			return tx.conn(ctx).Raw("SELECT canopy_change_password(?, ?, ?)", userID, old, hash).Scan(&replaced).Error
		}
		res := tx.conn(ctx).Model(&userPassword{}).Where("user_id = ? AND hash = ?", userID, old).
			Updates(map[string]any{"hash": hash, "updated_at": tx.db.NowFunc()})
		replaced = res.RowsAffected == 1
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("replace password: %w", err)
	}
	return replaced, nil
}

// Authenticate checks an email and password. An unknown email is checked
// against a dummy hash so both failures take about as long. A hash made with
// weaker parameters than today's is replaced on success.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	p, err := s.passwordOf(ctx, email)
	if errors.Is(err, ErrNotFound) {
		checkPassword(password, "")
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, weak := checkPassword(password, p.Hash)
	if !ok {
		return nil, ErrBadCredentials
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if u.ID != p.UserID || u.Status != UserActive {
		return nil, ErrBadCredentials
	}
	if weak {
		if err := s.upgradeHash(ctx, u.ID, p.Hash, password); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// upgradeHash rehashes a password just checked with today's parameters.
func (s *Store) upgradeHash(ctx context.Context, userID int64, old, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return nil //nolint:nilerr // the old hash still works; upgrade next time
	}
	_, err = s.replacePassword(ctx, userID, old, hash)
	return err
}

// EndAllSessions signs the user out everywhere: every session record
// carries the version it was made with, and older versions are refused;
// the records themselves are forgotten too (models/session.go).
func (s *Store) EndAllSessions(ctx context.Context, userID int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		err := tx.conn(ctx).Model(&User{}).Where("id = ?", userID).
			Update("session_version", gorm.Expr("session_version + 1")).Error
		if err != nil {
			return notFound(err, "end sessions")
		}
		return tx.endAllSessionRecords(ctx, userID)
	})
}

// PasswordChange is what a signed-in person types to change their password.
type PasswordChange struct {
	Current string
	New     string
	Confirm string
}

func (p PasswordChange) validate() FieldErrors {
	errs := FieldErrors{}
	if p.Current == "" {
		errs["current_password"] = "Enter your current password."
	}
	switch msg := ValidatePassword(p.New); {
	case p.New == "":
		errs["new_password"] = "Enter a new password."
	case msg != "":
		errs["new_password"] = msg
	case p.New == p.Current:
		errs["new_password"] = "Choose a password different from your current one."
	case p.Confirm == "":
		errs["confirm_password"] = "Enter the new password again."
	case p.Confirm != p.New:
		errs["confirm_password"] = "The two passwords do not match."
	}
	return errs
}

// ChangePassword replaces a user's password after checking the current one,
// and in the same transaction ends every session of theirs, on every host
// and device: the returned user carries the new session version, for the
// one session the caller starts afresh. What is wrong is reported beside
// the field, all at once; nothing changes unless everything is right.
func (s *Store) ChangePassword(ctx context.Context, userID int64, p PasswordChange) (*User, error) {
	errs := p.validate()
	var changed *User
	err := s.Tx(ctx, func(tx *Store) error {
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		current, err := tx.passwordOf(ctx, u.Email)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if p.Current != "" {
			if ok, _ := checkPassword(p.Current, current.Hash); !ok || u.Status != UserActive {
				errs["current_password"] = "The current password is not correct."
			}
		}
		if err := errs.Err(); err != nil {
			return err
		}
		hash, err := HashPassword(p.New)
		if err != nil {
			return err
		}
		if replaced, err := tx.replacePassword(ctx, u.ID, current.Hash, hash); err != nil {
			return err
		} else if !replaced {
			return FieldErrors{"current_password": "The current password is not correct."}
		}
		res := tx.conn(ctx).Model(&User{}).Where("id = ?", u.ID).Update("session_version", gorm.Expr("session_version + 1"))
		if res.Error != nil {
			return notFound(res.Error, "change password")
		}
		changed, err = tx.UserByID(ctx, u.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}

// EnterTenant records that a user arrived at a tenant: it is where their
// next sign-in lands. It tells whether they had entered it before, from the
// audit log's company-entered events (the caller writes this arrival's
// next), in the same statement: entering a company has a budget of
// statements. ctx must be scoped to the tenant, as the audit log is its.
func (s *Store) EnterTenant(ctx context.Context, userID, tenantID int64) (enteredBefore bool, err error) {
	earlier := s.scoped(ctx, tenantID).Model(&AuditEvent{}).Select("1").
		Where("action = ? AND actor_user_id = ?", AuditCompanyEntered, userID)
	var found []bool
	err = s.conn(ctx).Raw("UPDATE users SET last_tenant_id = ? WHERE id = ? RETURNING EXISTS (?)", tenantID, userID, earlier).
		Scan(&found).Error
	if err != nil {
		return false, fmt.Errorf("remember last tenant: %w", err)
	}
	if len(found) == 0 {
		return false, fmt.Errorf("remember last tenant: %w", ErrNotFound)
	}
	return found[0], nil
}

// validatePersonName cleans a first and last name in place and notes what
// is wrong with them. Which are required depends on the form: the invite
// forms ask for both, a company's future owner is invited by email alone,
// and someone accepting an invitation may have no last name.
func validatePersonName(errs FieldErrors, first, last *string, firstRequired, lastRequired bool) {
	cleanLines(errs, map[string]*string{"first_name": first, "last_name": last})
	switch {
	case errs["first_name"] != "":
	case *first == "" && firstRequired:
		errs["first_name"] = "Enter a first name."
	case len(*first) > 100:
		errs["first_name"] = "Use at most 100 characters."
	}
	switch {
	case errs["last_name"] != "":
	case *last == "" && lastRequired:
		errs["last_name"] = "Enter a last name."
	case len(*last) > 100:
		errs["last_name"] = "Use at most 100 characters."
	}
}

// CheckOwnPassword tells whether password is the person's own, to confirm
// it is them before a change to how they sign in. hasPassword is false
// for an account that signs in only through single sign-on; an empty
// password is checked against a dummy hash all the same, so the answer
// takes as long either way.
func (s *Store) CheckOwnPassword(ctx context.Context, userID int64, password string) (ok, hasPassword bool, err error) {
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		return false, false, err
	}
	p, err := s.passwordOf(ctx, u.Email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, false, err
	}
	hasPassword = err == nil && p.UserID == u.ID
	if !hasPassword {
		p.Hash = ""
	}
	ok, _ = checkPassword(password, p.Hash)
	return ok && hasPassword && u.Status == UserActive, hasPassword, nil
}
