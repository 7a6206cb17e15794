package models

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Passkey is one of a person's WebAuthn credentials: a passkey kept by
// their phone, computer or password manager, or a security key. The
// handlers verify what authenticators send (go-webauthn); the store keeps
// what later sign-ins are checked against.
type Passkey struct {
	ID           int64
	UserID       int64
	CredentialID []byte
	PublicKey    []byte // COSE-encoded, as the authenticator gave it
	// AttestationType is what the authenticator proved of itself at
	// registration ("none" for passkeys: Canopy asks for no attestation).
	AttestationType string
	AAGUID          []byte `gorm:"column:aaguid"` // the authenticator's model, all zeros when it does not say
	SignCount       int64  // the authenticator's counter at its last use; 0 for passkeys that keep none
	Transports      string // how the browser reaches it, comma-separated ("internal,hybrid")
	// BackupEligible: the passkey may be synced to the person's other
	// devices (a password manager's); BackupState: it is.
	BackupEligible bool
	BackupState    bool
	Name           string
	LastUsedAt     *time.Time
	CreatedAt      time.Time
}

// TableName is the table of 00026.
func (Passkey) TableName() string { return "user_passkeys" }

// TransportList is Transports as a list.
func (p Passkey) TransportList() []string {
	if p.Transports == "" {
		return nil
	}
	return strings.Split(p.Transports, ",")
}

// Synced tells whether the passkey is backed up beyond the device that made it.
func (p Passkey) Synced() bool { return p.BackupState }

// NewPasskey is a credential an authenticator just made, verified by the
// handler, with the name the person gave it ("" for a default).
type NewPasskey struct {
	UserID          int64
	CredentialID    []byte
	PublicKey       []byte
	AttestationType string
	AAGUID          []byte
	SignCount       uint32
	Transports      []string
	BackupEligible  bool
	BackupState     bool
	Name            string
	// DefaultName names the passkey when Name is empty: the
	// authenticator's, when the handler recognises it; else "Passkey N".
	DefaultName string
}

// PasskeyUse is what a verified sign-in with a passkey changes in it.
type PasskeyUse struct {
	UserID      int64
	PasskeyID   int64
	SignCount   uint32
	BackupState bool
}

// ErrPasskeyExists refuses a credential that is already someone's passkey.
var ErrPasskeyExists = errors.New("this passkey is already added")

// maxPasskeyName is the longest name a passkey may have (00026's CHECK).
const maxPasskeyName = 60

// handleSize is the length of a person's WebAuthn user handle: 32 random
// bytes (the specification allows up to 64).
const handleSize = 32

// PasskeyHandle is the person's WebAuthn user handle, made the first time
// it is needed: random, so it tells nothing of who they are, and stable,
// so every passkey they add names them the same. Read and made in the
// scope of the person (their own row under row-level security).
func (s *Store) PasskeyHandle(ctx context.Context, userID int64) ([]byte, error) {
	handle, err := s.FindPasskeyHandle(ctx, userID)
	if !errors.Is(err, ErrNotFound) {
		return handle, err
	}
	fresh := make([]byte, handleSize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("make passkey handle: %w", err)
	}
	// Two first passkeys at once: the second insert finds the first's row
	// and reads it back, so the person has one handle whichever wins.
	err = s.conn(ctx).Exec(`INSERT INTO user_passkey_handles (user_id, handle, created_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO NOTHING`, userID, fresh, s.db.NowFunc()).Error
	if err != nil {
		return nil, fmt.Errorf("make passkey handle: %w", err)
	}
	return s.FindPasskeyHandle(ctx, userID)
}

// FindPasskeyHandle is the person's user handle, or ErrNotFound before
// their first passkey.
func (s *Store) FindPasskeyHandle(ctx context.Context, userID int64) ([]byte, error) {
	var handles [][]byte
	err := s.conn(ctx).Raw("SELECT handle FROM user_passkey_handles WHERE user_id = ?", userID).Scan(&handles).Error
	if err != nil {
		return nil, fmt.Errorf("load passkey handle: %w", err)
	}
	if len(handles) == 0 {
		return nil, fmt.Errorf("load passkey handle: %w", ErrNotFound)
	}
	return handles[0], nil
}

// Passkeys are the person's passkeys, oldest first.
func (s *Store) Passkeys(ctx context.Context, userID int64) ([]Passkey, error) {
	var keys []Passkey
	if err := s.conn(ctx).Where("user_id = ?", userID).Order("id").Find(&keys).Error; err != nil {
		return nil, fmt.Errorf("load passkeys: %w", err)
	}
	return keys, nil
}

// Passkey is one of the person's passkeys; another's is ErrNotFound.
func (s *Store) Passkey(ctx context.Context, userID, id int64) (*Passkey, error) {
	var p Passkey
	err := s.conn(ctx).Where("user_id = ? AND id = ?", userID, id).Take(&p).Error
	return &p, notFound(err, "load passkey")
}

// AddPasskey keeps a verified credential as the person's passkey and marks
// their account as having a second factor, in one transaction. A name too
// long or blank after trimming is a FieldErrors on "name"; a credential
// that is already a passkey is ErrPasskeyExists.
func (s *Store) AddPasskey(ctx context.Context, in NewPasskey) (*Passkey, error) {
	name, problem := cleanPasskeyName(in.Name)
	if problem != "" && strings.TrimSpace(in.Name) != "" {
		return nil, FieldErrors{"name": problem}
	}
	p := &Passkey{
		UserID: in.UserID, CredentialID: in.CredentialID, PublicKey: in.PublicKey, AttestationType: in.AttestationType,
		AAGUID: in.AAGUID, SignCount: int64(in.SignCount), Transports: strings.Join(in.Transports, ","),
		BackupEligible: in.BackupEligible, BackupState: in.BackupState, Name: name,
	}
	err := s.Tx(ctx, func(tx *Store) error {
		if p.Name == "" {
			var err error
			if p.Name, err = tx.defaultPasskeyName(ctx, in.UserID, in.DefaultName); err != nil {
				return err
			}
		}
		p.CreatedAt = tx.db.NowFunc()
		if err := tx.conn(ctx).Create(p).Error; err != nil {
			if violatesUnique(err, "user_passkeys_credential_id_key") {
				return ErrPasskeyExists
			}
			return fmt.Errorf("add passkey: %w", err)
		}
		_, err := tx.refreshTwoFactor(ctx, in.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// defaultPasskeyName is the authenticator's name when known, else
// "Passkey N", N one more than the person's passkeys; either made unique
// among their passkeys with a number.
func (s *Store) defaultPasskeyName(ctx context.Context, userID int64, known string) (string, error) {
	keys, err := s.Passkeys(ctx, userID)
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for _, k := range keys {
		taken[k.Name] = true
	}
	known, _ = cleanPasskeyName(known)
	if known != "" && !taken[known] {
		return known, nil
	}
	stem, n := "Passkey", len(keys)+1
	if known != "" {
		stem, n = known, 2
	}
	for ; ; n++ {
		name := truncateText(stem, maxPasskeyName-len(strconv.Itoa(n))-1) + " " + strconv.Itoa(n)
		if !taken[name] {
			return name, nil
		}
	}
}

// RenamePasskey gives one of the person's passkeys a new name.
func (s *Store) RenamePasskey(ctx context.Context, userID, id int64, name string) (*Passkey, error) {
	clean, problem := cleanPasskeyName(name)
	if problem != "" {
		return nil, FieldErrors{"name": problem}
	}
	p, err := s.Passkey(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	res := s.conn(ctx).Model(&Passkey{}).Where("user_id = ? AND id = ?", userID, id).Update("name", clean)
	if err := changed(res, "rename passkey"); err != nil {
		return nil, err
	}
	p.Name = clean
	return p, nil
}

// RemovePasskey deletes one of the person's passkeys and updates whether
// their account still has a second factor, in one transaction. It returns
// the passkey removed.
func (s *Store) RemovePasskey(ctx context.Context, userID, id int64) (*Passkey, error) {
	var p *Passkey
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if p, err = tx.Passkey(ctx, userID, id); err != nil {
			return err
		}
		res := tx.conn(ctx).Where("user_id = ? AND id = ?", userID, id).Delete(&Passkey{})
		if err := changed(res, "remove passkey"); err != nil {
			return err
		}
		_, err = tx.refreshTwoFactor(ctx, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// PasskeyOwner is whose passkey has this credential id, and their user
// handle, which the authenticator's answer must repeat: the one question
// a passkey sign-in asks before anyone is signed in. On PostgreSQL it goes
// through the owner's function canopy_passkey_owner (one row, by exact id);
// everything else is then read in the scope of the person it names.
// An unknown id is ErrNotFound.
func (s *Store) PasskeyOwner(ctx context.Context, credentialID []byte) (userID int64, handle []byte, err error) {
	var rows []struct {
		UserID int64
		Handle []byte
	}
	q := s.conn(ctx).Raw(`SELECT k.user_id, h.handle FROM user_passkeys AS k
		JOIN user_passkey_handles AS h ON h.user_id = k.user_id WHERE k.credential_id = ?`, credentialID)
	if s.Dialect() == Postgres {
		// Named: GORM would spread a "(?" of bytes into a list of numbers.
		q = s.conn(ctx).Raw("SELECT user_id, handle FROM canopy_passkey_owner(p_credential_id => ?)", credentialID)
	}
	if err := q.Scan(&rows).Error; err != nil {
		return 0, nil, fmt.Errorf("find passkey owner: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil, fmt.Errorf("find passkey owner: %w", ErrNotFound)
	}
	return rows[0].UserID, rows[0].Handle, nil
}

// NotePasskeyUsed records a verified use of a passkey: its counter, whether
// it is backed up now, and when. The counter only moves forward: a use
// whose counter is not above the stored one (a cloned authenticator) must
// have been refused before this, and a race with another use of the same
// passkey changes nothing here (ErrChangedMeanwhile).
func (s *Store) NotePasskeyUsed(ctx context.Context, use PasskeyUse) error {
	q := s.conn(ctx).Model(&Passkey{}).Where("user_id = ? AND id = ?", use.UserID, use.PasskeyID)
	if use.SignCount != 0 {
		q = q.Where("sign_count < ?", int64(use.SignCount))
	}
	res := q.Updates(map[string]any{"sign_count": int64(use.SignCount), "backup_state": use.BackupState, "last_used_at": s.db.NowFunc()})
	return changed(res, "note passkey use")
}

// cleanPasskeyName trims a name and says what is wrong with it, if anything.
func cleanPasskeyName(name string) (string, string) {
	name = strings.Join(strings.Fields(name), " ")
	switch {
	case name == "":
		return "", "Enter a name for the passkey."
	case utf8.RuneCountInString(name) > maxPasskeyName:
		return "", "Use at most 60 characters."
	}
	return name, ""
}
