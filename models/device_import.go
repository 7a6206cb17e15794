package models

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits of one CSV import. Larger files are refused as a whole, with a
// message saying how to split them.
const (
	MaxDeviceCSVRows  = 5000    // DeviceCSVLimit and the messages say so
	MaxDeviceCSVBytes = 1 << 20 // 1 MiB
)

// DeviceCSVRow is one device read from a CSV file. Line is its line in the
// file (the header is line 1), as a spreadsheet numbers it.
type DeviceCSVRow struct {
	Line       int
	Identifier string
	Model      string
	Status     DeviceStatus
}

// DeviceRowOutcome is what became of one line of an import.
type DeviceRowOutcome struct {
	Line       int
	Identifier string // as read, trimmed; may be empty or invalid when refused
	Model      string
	Imported   bool
	Reason     string // why the line was refused; empty when imported
}

// DeviceImportReport is the per-line answer to an import, in file order.
type DeviceImportReport struct {
	Rows     []DeviceRowOutcome
	Imported int
	Refused  int
}

// Refusals lists only the lines that were refused.
func (r DeviceImportReport) Refusals() []DeviceRowOutcome {
	var out []DeviceRowOutcome
	for _, row := range r.Rows {
		if !row.Imported {
			out = append(out, row)
		}
	}
	return out
}

// Imports lists only the lines that were imported.
func (r DeviceImportReport) Imports() []DeviceRowOutcome {
	var out []DeviceRowOutcome
	for _, row := range r.Rows {
		if row.Imported {
			out = append(out, row)
		}
	}
	return out
}

func (r *DeviceImportReport) add(o DeviceRowOutcome) {
	r.Rows = append(r.Rows, o)
	if o.Imported {
		r.Imported++
	} else {
		r.Refused++
	}
}

func (r *DeviceImportReport) sort() {
	slices.SortStableFunc(r.Rows, func(a, b DeviceRowOutcome) int { return a.Line - b.Line })
}

// DeviceCSVError is a problem with a whole file: too large, no header, not
// CSV. Nothing of such a file is imported. Its message is for people.
type DeviceCSVError struct{ Message string }

func (e *DeviceCSVError) Error() string { return e.Message }

// DeviceCSVLimit says how large a file may be, for forms and messages.
const DeviceCSVLimit = "5,000 devices and 1 MiB"

// DeviceCSVFormat describes the expected file, for forms and messages.
const DeviceCSVFormat = "identifier,model[,status]"

// deviceColumns maps the header names people write to the three columns.
var deviceColumns = map[string]string{
	"identifier": "identifier", "device identifier": "identifier", "device id": "identifier", "id": "identifier",
	"model": "model", "device model": "model",
	"status": "status", "device status": "status",
}

// normalizeHeader makes " Device_Identifier " and "device identifier" alike.
func normalizeHeader(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.NewReplacer("_", " ", "-", " ").Replace(h)
	return strings.Join(strings.Fields(h), " ")
}

// ParseDeviceCSV reads devices from a CSV file whose first line is the
// header identifier,model and optionally status (in any order and case;
// "Device Identifier" and "Device Model" are understood too). It tolerates a
// byte-order mark, CRLF line ends, blank lines and spaces around values.
//
// Every row it returns is valid and unique within the file (in any case);
// each other line comes back as a refusal with its reason. A file larger than
// MaxDeviceCSVBytes or with more than MaxDeviceCSVRows devices, or without a
// usable header, is refused whole with a *DeviceCSVError.
func ParseDeviceCSV(r io.Reader) ([]DeviceCSVRow, []DeviceRowOutcome, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDeviceCSVBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read CSV: %w", err)
	}
	if len(data) > MaxDeviceCSVBytes {
		return nil, nil, &DeviceCSVError{"The file is larger than 1 MiB. Split it into files of at most 5,000 devices and import them one by one."}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, &DeviceCSVError{"The file is empty. Its first line must be the header " + DeviceCSVFormat + "."}
	}

	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1 // short and long lines are reported per line
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false

	var columns map[string]int // column name → index
	var rows []DeviceCSVRow
	var refused []DeviceRowOutcome
	seen := map[string]int{} // lower-case identifier → line of its first appearance
	dataLines := 0
	for {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var line int
		var perr *csv.ParseError
		switch {
		case err == nil:
			line, _ = cr.FieldPos(0)
		case errors.As(err, &perr):
			line = perr.StartLine
		default:
			return nil, nil, fmt.Errorf("read CSV: %w", err)
		}
		if columns == nil {
			if err != nil {
				return nil, nil, &DeviceCSVError{"The header line cannot be read as CSV. Its first line must be " + DeviceCSVFormat + "."}
			}
			if blankRecord(record) {
				continue
			}
			if columns, err = headerColumns(record); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err == nil && blankRecord(record) {
			continue
		}
		dataLines++
		if dataLines > MaxDeviceCSVRows {
			return nil, nil, &DeviceCSVError{"The file has more than 5,000 devices. Split it into files of at most 5,000 devices and import them one by one."}
		}
		if err != nil {
			refused = append(refused, DeviceRowOutcome{Line: line, Reason: "This line is not valid CSV: " + csvProblem(perr) + "."})
			continue
		}
		value := func(col string) string {
			if i, ok := columns[col]; ok && i < len(record) {
				return strings.TrimSpace(record[i])
			}
			return ""
		}
		row := DeviceCSVRow{Line: line, Identifier: value("identifier"), Model: value("model")}
		out := DeviceRowOutcome{Line: line, Identifier: row.Identifier, Model: row.Model}
		if len(record) > len(columns) && !blankRecord(record[len(columns):]) {
			out.Reason = fmt.Sprintf("This line has %d values but the header has %d columns.", len(record), len(columns))
		} else if out.Reason = rowProblem(&row, value("status")); out.Reason == "" {
			key := strings.ToLower(row.Identifier)
			if first, dup := seen[key]; dup {
				out.Reason = fmt.Sprintf("Duplicate identifier: line %d of this file has it already.", first)
			} else {
				seen[key] = line
			}
		}
		if out.Reason != "" {
			out.Identifier, out.Model = displayValue(out.Identifier), displayValue(out.Model)
			refused = append(refused, out)
			continue
		}
		rows = append(rows, row)
	}
	if columns == nil {
		return nil, nil, &DeviceCSVError{"The file is empty. Its first line must be the header " + DeviceCSVFormat + "."}
	}
	return rows, refused, nil
}

// rowProblem validates one row in place and says what is wrong with it, or "".
func rowProblem(row *DeviceCSVRow, rawStatus string) string {
	if msg := ValidateDeviceIdentifier(row.Identifier); msg != "" {
		if row.Identifier == "" {
			return "Missing identifier."
		}
		return "Bad identifier: " + msg
	}
	if msg := ValidateDeviceModel(row.Model); msg != "" {
		if row.Model == "" {
			return "Missing model."
		}
		return "Bad model: " + msg
	}
	status, ok := ParseDeviceStatus(rawStatus)
	switch {
	case !ok:
		return "Unknown status: use active or inactive, or leave it empty for active."
	case status == DeviceDeprovisioned:
		return "A device cannot be imported as deprovisioned: use active or inactive."
	}
	row.Status = status
	return ""
}

func headerColumns(record []string) (map[string]int, error) {
	columns := map[string]int{}
	for i, raw := range record {
		name := normalizeHeader(raw)
		if name == "" && i == len(record)-1 && i > 0 {
			continue // a trailing comma
		}
		col, ok := deviceColumns[name]
		if !ok {
			shown := fmt.Sprintf("%q (column %d)", displayValue(raw), i+1)
			return nil, &DeviceCSVError{"The header has an unknown column " + shown + ". The first line must be " + DeviceCSVFormat + "."}
		}
		if _, dup := columns[col]; dup {
			return nil, &DeviceCSVError{"The header names the " + col + " column twice. The first line must be " + DeviceCSVFormat + "."}
		}
		columns[col] = i
	}
	_, hasID := columns["identifier"]
	_, hasModel := columns["model"]
	if !hasID || !hasModel {
		return nil, &DeviceCSVError{"The header must name the identifier and model columns. The first line must be " + DeviceCSVFormat + "."}
	}
	return columns, nil
}

func blankRecord(record []string) bool {
	for _, v := range record {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// displayValue makes what a refused line held fit to show back: valid
// UTF-8, no control characters, at most 80 characters.
func displayValue(s string) string {
	s = strings.TrimSpace(controlsToSpaces(strings.ToValidUTF8(s, "\uFFFD")))
	if utf8.RuneCountInString(s) > 80 {
		s = string([]rune(s)[:79]) + "…"
	}
	return s
}

func csvProblem(perr *csv.ParseError) string {
	if perr == nil {
		return "unreadable"
	}
	switch {
	case errors.Is(perr.Err, csv.ErrQuote), errors.Is(perr.Err, csv.ErrBareQuote):
		return "a quote is not closed"
	}
	return perr.Err.Error()
}

// importChunk bounds the identifiers looked up, and rows inserted, per
// statement, well within both databases' limits on parameters.
const importChunk = 500

// ImportDevices adds the valid new rows to a tenant in one transaction and
// reports, per line, whether each was imported or why it was refused: an
// invalid row, an identifier that appears earlier in rows, or one the tenant
// already has (in any case). Refused rows do not stop the others; but the
// rows that are imported are all imported together, or — when the database
// fails — none is, and the error is returned.
func (s *Store) ImportDevices(ctx context.Context, tenantID int64, rows []DeviceCSVRow) (DeviceImportReport, error) {
	var report DeviceImportReport
	if tenantID <= 0 {
		return report, ErrNoTenant
	}
	if len(rows) > MaxDeviceCSVRows {
		return report, &DeviceCSVError{"At most 5,000 devices can be imported at once."}
	}
	// The rows may not come from ParseDeviceCSV: check them again.
	var candidates []DeviceCSVRow
	seen := map[string]int{}
	for _, row := range rows {
		row.Identifier, row.Model = strings.TrimSpace(row.Identifier), strings.TrimSpace(row.Model)
		reason := rowProblem(&row, string(row.Status))
		if reason == "" {
			if first, dup := seen[strings.ToLower(row.Identifier)]; dup {
				reason = fmt.Sprintf("Duplicate identifier: line %d of this file has it already.", first)
			}
		}
		if reason != "" {
			report.add(DeviceRowOutcome{Line: row.Line, Identifier: displayValue(row.Identifier), Model: displayValue(row.Model), Reason: reason})
			continue
		}
		seen[strings.ToLower(row.Identifier)] = row.Line
		candidates = append(candidates, row)
	}
	if len(candidates) > 0 {
		var outcomes []DeviceRowOutcome
		var err error
		// A device added by someone else between the look-up and the insert
		// fails the transaction on the unique index; look again and retry.
		for attempt := 0; ; attempt++ {
			outcomes, err = s.importNew(ctx, tenantID, candidates)
			if err == nil || !violatesUnique(err, "devices_tenant_identifier_key") || attempt == 2 {
				break
			}
		}
		if err != nil {
			return DeviceImportReport{}, err
		}
		for _, o := range outcomes {
			report.add(o)
		}
	}
	report.sort()
	return report, nil
}

// importNew inserts, in one transaction, the candidates whose identifiers
// the tenant does not have yet.
func (s *Store) importNew(ctx context.Context, tenantID int64, candidates []DeviceCSVRow) ([]DeviceRowOutcome, error) {
	var outcomes []DeviceRowOutcome
	err := s.Tx(ctx, func(tx *Store) error {
		outcomes = outcomes[:0]
		existing := map[string]bool{}
		for chunk := range slices.Chunk(candidates, importChunk) {
			keys := make([]string, len(chunk))
			for i, row := range chunk {
				keys[i] = strings.ToLower(row.Identifier)
			}
			var found []string
			if err := tx.scoped(ctx, tenantID).Model(&Device{}).Where("lower(identifier) IN ?", keys).
				Pluck("lower(identifier)", &found).Error; err != nil {
				return fmt.Errorf("look up devices: %w", err)
			}
			for _, k := range found {
				existing[k] = true
			}
		}
		var devices []Device
		for _, row := range candidates {
			o := DeviceRowOutcome{Line: row.Line, Identifier: row.Identifier, Model: row.Model}
			if existing[strings.ToLower(row.Identifier)] {
				o.Reason = "A device with this identifier already exists here."
			} else {
				o.Imported = true
				devices = append(devices, Device{TenantID: tenantID, Identifier: row.Identifier, Model: row.Model, Status: row.Status})
			}
			outcomes = append(outcomes, o)
		}
		if len(devices) == 0 {
			return nil
		}
		if err := tx.conn(ctx).CreateInBatches(&devices, importChunk).Error; err != nil {
			return fmt.Errorf("import devices: %w", err)
		}
		if err := tx.meterNewDevices(ctx, tenantID, devices, tx.db.NowFunc()); err != nil {
			return err
		}
		if err := tx.audit(ctx, tenantID, AuditDeviceImported, AuditTarget{Type: "device", Label: fmt.Sprintf("%d devices", len(devices))}, nil, map[string]any{"imported": len(devices), "already_present": len(outcomes) - len(devices)}); err != nil {
			return err
		}
		return tx.emitDeviceCreated(ctx, tenantID, devices...)
	})
	return outcomes, err
}

// ImportDevicesCSV reads a CSV file (see ParseDeviceCSV) and imports its
// valid rows (see ImportDevices), reporting on every line of the file. A
// file refused as a whole is a *DeviceCSVError and imports nothing.
func (s *Store) ImportDevicesCSV(ctx context.Context, tenantID int64, r io.Reader) (DeviceImportReport, error) {
	if tenantID <= 0 {
		return DeviceImportReport{}, ErrNoTenant
	}
	rows, refused, err := ParseDeviceCSV(r)
	if err != nil {
		return DeviceImportReport{}, err
	}
	report, err := s.ImportDevices(ctx, tenantID, rows)
	if err != nil {
		return DeviceImportReport{}, err
	}
	for _, o := range refused {
		report.add(o)
	}
	report.sort()
	return report, nil
}
