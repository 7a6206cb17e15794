package models

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
)

// DeviceStatus is where a device is in its life. Deprovisioned is final.
type DeviceStatus string

// The device statuses.
const (
	DeviceActive        DeviceStatus = "active"
	DeviceInactive      DeviceStatus = "inactive"
	DeviceDeprovisioned DeviceStatus = "deprovisioned"
)

// DeviceStatuses lists every status, in the order a device passes through them.
var DeviceStatuses = []DeviceStatus{DeviceActive, DeviceInactive, DeviceDeprovisioned}

// Label is the status as people read it.
func (s DeviceStatus) Label() string {
	switch s {
	case DeviceActive:
		return "Active"
	case DeviceInactive:
		return "Inactive"
	case DeviceDeprovisioned:
		return "Deprovisioned"
	}
	return "Unknown"
}

// Settable tells whether people may put a device into this status by hand:
// active or inactive. Deprovisioning has its own, final, operation.
func (s DeviceStatus) Settable() bool { return s == DeviceActive || s == DeviceInactive }

// ParseDeviceStatus reads a status as typed in a form or a CSV file, in any
// case and with spaces around it; empty means active.
func ParseDeviceStatus(raw string) (DeviceStatus, bool) {
	s := DeviceStatus(strings.ToLower(strings.TrimSpace(raw)))
	if s == "" {
		return DeviceActive, true
	}
	for _, known := range DeviceStatuses {
		if s == known {
			return s, true
		}
	}
	return "", false
}

// Device is a piece of hardware registered in one tenant.
type Device struct {
	ID              int64
	TenantID        int64
	Identifier      string // unique in its tenant, in any case
	Model           string
	Status          DeviceStatus
	DeprovisionedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// target is the device as an audit event names it.
func (d *Device) target() AuditTarget {
	return AuditTarget{Type: "device", ID: d.ID, Label: d.Identifier}
}

// Deprovisioned tells whether the device has been deprovisioned, for good.
func (d *Device) Deprovisioned() bool { return d.Status == DeviceDeprovisioned }

// Limits of a device's fields, shared by the forms and the CSV import.
const (
	MaxDeviceIdentifierLen = 64
	MaxDeviceModelLen      = 100
)

// DevicePageSize is how many devices one page of the list shows.
const DevicePageSize = 25

var deviceIdentifierChars = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// ValidateDeviceIdentifier says what is wrong with a trimmed identifier, or "".
// Identifiers are ASCII, so "the same in any case" means the same thing on
// every database.
func ValidateDeviceIdentifier(id string) string {
	switch {
	case id == "":
		return "Enter the device identifier."
	case len(id) > MaxDeviceIdentifierLen:
		return fmt.Sprintf("Use at most %d characters for the identifier.", MaxDeviceIdentifierLen)
	case !deviceIdentifierChars.MatchString(id):
		return "Use only letters, digits and - _ : . in the identifier."
	}
	return ""
}

// ValidateDeviceModel says what is wrong with a trimmed model name, or "".
func ValidateDeviceModel(model string) string {
	switch {
	case model == "":
		return "Enter the device model."
	case !utf8.ValidString(model):
		return "The model is not valid UTF-8 text."
	case utf8.RuneCountInString(model) > MaxDeviceModelLen:
		return fmt.Sprintf("Use at most %d characters for the model.", MaxDeviceModelLen)
	case strings.IndexFunc(model, unicode.IsControl) >= 0:
		return "The model contains control characters such as line breaks or tabs."
	}
	return ""
}

// NewDevice describes a device to add.
type NewDevice struct {
	Identifier string
	Model      string
	Status     DeviceStatus // active or inactive; empty means active
	// CreatedAt is when the device was registered; zero means now. Only the
	// demo data and imports of historic records set it.
	CreatedAt time.Time
}

func (n *NewDevice) validate() FieldErrors {
	n.Identifier = strings.TrimSpace(n.Identifier)
	n.Model = strings.TrimSpace(n.Model)
	if n.Status == "" {
		n.Status = DeviceActive
	}
	errs := FieldErrors{}
	if msg := ValidateDeviceIdentifier(n.Identifier); msg != "" {
		errs["identifier"] = msg
	}
	if msg := ValidateDeviceModel(n.Model); msg != "" {
		errs["model"] = msg
	}
	if !n.Status.Settable() {
		errs["status"] = "A new device is either active or inactive."
	}
	return errs
}

// errDuplicateIdentifier is shown beside the identifier of a device that the
// tenant already has, in any case.
var errDuplicateIdentifier = FieldErrors{"identifier": "A device with this identifier already exists here."}

// AddDevice registers a device in a tenant. An identifier the tenant already
// has, in any case, is reported beside the identifier field; the unique
// index decides, also when two requests race.
func (s *Store) AddDevice(ctx context.Context, tenantID int64, n NewDevice) (*Device, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if err := n.validate().Err(); err != nil {
		return nil, err
	}
	d := &Device{TenantID: tenantID, Identifier: n.Identifier, Model: n.Model, Status: n.Status}
	if !n.CreatedAt.IsZero() {
		d.CreatedAt = n.CreatedAt.UTC().Truncate(time.Microsecond)
		d.UpdatedAt = d.CreatedAt
	}
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Create(d).Error; err != nil {
			if violatesUnique(err, "devices_tenant_identifier_key") {
				return errDuplicateIdentifier
			}
			return fmt.Errorf("add device: %w", err)
		}
		if err := tx.audit(ctx, tenantID, AuditDeviceAdded, d.target(), nil, map[string]any{"identifier": d.Identifier, "model": d.Model, "status": d.Status}); err != nil {
			return err
		}
		if err := tx.meterNewDevices(ctx, tenantID, []Device{*d}, d.CreatedAt); err != nil {
			return err
		}
		return tx.emitDeviceCreated(ctx, tenantID, *d)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// ListDevices is one page of a tenant's devices, newest first, optionally
// narrowed to those whose identifier or model contains query in any case.
// The whole list is one statement: the page, with the tenant's device count
// beside it (tenants.device_count, which the database keeps); a search is
// two, a count of its matches up to CountCap and the page. The order is the
// one the (tenant_id, created_at DESC, id DESC) index keeps, and a search
// is served by the trigram indexes.
func (s *Store) ListDevices(ctx context.Context, tenantID int64, query string, page PageRequest) (Page[Device], error) {
	out := Page[Device]{PageRequest: page}
	if tenantID <= 0 {
		return out, ErrNoTenant
	}
	devices := s.scoped(ctx, tenantID).Model(&Device{})
	listed := func() *gorm.DB {
		return devices.Session(&gorm.Session{}).Order("created_at DESC, id DESC").Offset(page.Offset()).Limit(page.Size)
	}
	q := strings.TrimSpace(query)
	if q == "" {
		kept := s.conn(ctx).Model(&Tenant{}).Select("device_count").Where("id = ?", tenantID)
		if err := readPageWithKeptTotal(listed(), kept, &out, "devices.*"); err != nil {
			return out, fmt.Errorf("list devices: %w", err)
		}
		return out, nil
	}
	if err := s.planSearch(ctx); err != nil {
		return out, err
	}
	devices = s.containsAny(devices, q, "identifier", "model")
	if err := countCapped(s.conn(ctx), devices.Session(&gorm.Session{}), &out); err != nil {
		return out, fmt.Errorf("count devices: %w", err)
	}
	if err := listed().Find(&out.Items).Error; err != nil {
		return out, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// DeviceByID loads one device of a tenant, or ErrNotFound (also for a
// device of another tenant).
func (s *Store) DeviceByID(ctx context.Context, tenantID, deviceID int64) (*Device, error) {
	var d Device
	err := s.scoped(ctx, tenantID).Where("id = ?", deviceID).Take(&d).Error
	return &d, notFound(err, "load device")
}

// DeviceByIdentifier finds a tenant's device by identifier in any case, or ErrNotFound.
func (s *Store) DeviceByIdentifier(ctx context.Context, tenantID int64, identifier string) (*Device, error) {
	var d Device
	err := s.scoped(ctx, tenantID).Where("lower(identifier) = ?", strings.ToLower(strings.TrimSpace(identifier))).Take(&d).Error
	return &d, notFound(err, "load device")
}

// SetDeviceStatus makes a device of the tenant active or inactive. A
// deprovisioned device stays deprovisioned (ErrDeviceDeprovisioned); a device
// of another tenant is ErrNotFound.
func (s *Store) SetDeviceStatus(ctx context.Context, tenantID, deviceID int64, status DeviceStatus) (*Device, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if !status.Settable() {
		return nil, FieldErrors{"status": "Choose active or inactive."}
	}
	// A device already in that status is left alone, Updated At included.
	return s.changeDevice(ctx, tenantID, deviceID, deviceChange{
		what:      "set device status",
		action:    AuditDeviceStatusChanged,
		unchanged: "status = ?",
		args:      []any{status},
		set:       func(now time.Time) map[string]any { return map[string]any{"status": status, "updated_at": now} },
		audited:   func(d *Device) map[string]any { return map[string]any{"status": d.Status} },
	})
}

// SetDeviceModel changes the model of a device of the tenant, checked as
// when it was added (beside the "model" field). A deprovisioned device
// cannot be changed (ErrDeviceDeprovisioned); a device of another tenant is
// ErrNotFound; the same model again changes nothing, Updated At included.
func (s *Store) SetDeviceModel(ctx context.Context, tenantID, deviceID int64, model string) (*Device, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	model = strings.TrimSpace(model)
	if msg := ValidateDeviceModel(model); msg != "" {
		return nil, FieldErrors{"model": msg}
	}
	return s.changeDevice(ctx, tenantID, deviceID, deviceChange{
		what:      "set device model",
		action:    AuditDeviceModelChanged,
		unchanged: "model = ?",
		args:      []any{model},
		set:       func(now time.Time) map[string]any { return map[string]any{"model": model, "updated_at": now} },
		audited:   func(d *Device) map[string]any { return map[string]any{"model": d.Model} },
	})
}

// DeprovisionDevice deprovisions a device of the tenant, for good: its status
// becomes deprovisioned and Deprovisioned At is set. A device that is already
// deprovisioned is ErrDeviceDeprovisioned and keeps its date; a device of
// another tenant is ErrNotFound and stays untouched.
func (s *Store) DeprovisionDevice(ctx context.Context, tenantID, deviceID int64) (*Device, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	return s.changeDevice(ctx, tenantID, deviceID, deviceChange{
		what:   "deprovision device",
		action: AuditDeviceDeprovisioned,
		set: func(now time.Time) map[string]any {
			return map[string]any{"status": DeviceDeprovisioned, "deprovisioned_at": now, "updated_at": now}
		},
		audited: func(d *Device) map[string]any { return map[string]any{"status": d.Status} },
	})
}

// deviceChange is one change changeDevice makes to a device.
type deviceChange struct {
	what, action string // for errors, and the audit action
	// unchanged, with args, is an SQL condition true of a device that is
	// already as asked, which is then left alone; "" for none.
	unchanged string
	args      []any
	set       func(now time.Time) map[string]any // the columns to write
	audited   func(d *Device) map[string]any     // the fields the audit event shows before and after
}

// changeDevice makes a change to a device of the tenant, in one transaction,
// and returns the device as it is now. A deprovisioned device is
// ErrDeviceDeprovisioned and stays as it is. The conditions sit in the
// UPDATE itself, so two simultaneous requests cannot both pass them.
func (s *Store) changeDevice(ctx context.Context, tenantID, deviceID int64, c deviceChange) (*Device, error) {
	var d *Device
	err := s.Tx(ctx, func(tx *Store) error {
		was, err := tx.DeviceByID(ctx, tenantID, deviceID)
		if err != nil {
			return err
		}
		q := tx.scoped(ctx, tenantID).Model(&Device{}).Where("id = ? AND status <> ?", deviceID, DeviceDeprovisioned)
		if c.unchanged != "" {
			q = q.Where("NOT ("+c.unchanged+")", c.args...)
		}
		now := tx.db.NowFunc()
		res := q.Updates(c.set(now))
		if res.Error != nil {
			return fmt.Errorf("%s: %w", c.what, res.Error)
		}
		d, err = tx.DeviceByID(ctx, tenantID, deviceID)
		if err != nil {
			return err
		}
		if res.RowsAffected == 0 && d.Deprovisioned() {
			return fmt.Errorf("%s %s: %w", c.what, d.Identifier, ErrDeviceDeprovisioned)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		if err := tx.meterDeviceStatus(ctx, tenantID, deviceID, was.Status, d.Status, now); err != nil {
			return err
		}
		if err := tx.audit(ctx, tenantID, c.action, d.target(), c.audited(was), c.audited(d)); err != nil {
			return err
		}
		return tx.emitDeviceChange(ctx, was, d)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
