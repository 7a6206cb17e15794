package cluster

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is a child process whose output goes to a log file, killed on
// every way out of the test.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // what Wait returned, once done is closed
}

// startProcess runs name with args and env, appending its output to
// logPath; the test's cleanup kills it if it still runs.
func startProcess(t *testing.T, label, logPath string, env []string, name string, args ...string) *process {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logFile, "\n===== %s: %s %s\n", time.Now().Format(time.TimeOnly), name, strings.Join(args, " "))
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A process group of its own: Ctrl-C at the terminal running the test
	// must not reach the children before the test can stop them in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("start %s: %v", label, err)
	}
	p := &process{name: label, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// running tells whether the process has not exited.
func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig and waits up to limit for the process to exit.
func (p *process) signal(sig syscall.Signal, limit time.Duration) error {
	if !p.running() {
		if p.err == nil {
			return fmt.Errorf("%s had already exited", p.name)
		}
		return fmt.Errorf("%s had already exited: %w", p.name, p.err)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("%s did not exit within %s of %s", p.name, limit, sig)
	}
}

// kill ends the process at once if it still runs.
func (p *process) kill() {
	if p.running() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail is the last n lines of the process's log.
func (p *process) tail(n int) string { return tailFile(p.logPath, n) }

func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// instance is one `canopy serve` process behind the balancer.
type instance struct {
	name    string // as HAProxy names it, and X-Served-By says
	port    int
	dataDir string
	logPath string
	proc    *process
}

func (in *instance) addr() string { return "127.0.0.1:" + strconv.Itoa(in.port) }

// haproxy is the balancer in front of the instances.
type haproxy struct {
	port      int // the frontend: CANOPY_BASE_URL's port
	statsPort int
	config    string
	proc      *process
}

// haproxyConfig is the configuration the test runs HAProxy with, and
// docs/scaling.md shows. %s are filled in by writeHAProxyConfig.
const haproxyConfig = `global
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client  60s
    timeout server  60s
    # A request whose connection to an instance failed goes to another:
    # the instance was stopping (its listener closed) or had died.
    retries 3
    option redispatch 1
    # conn-failure: the request never reached an instance, so resending
    # it is always safe. empty-response: the instance closed the
    # connection without answering (killed mid-request) — it may have
    # acted, so only requests that change nothing are resent; see the
    # disable-l7-retry line below.
    retry-on conn-failure empty-response
    # One request per connection to an instance: a request is never sent
    # on a kept-alive connection that an instance shutting down is
    # closing at that moment. Clients keep their own connections alive.
    option http-server-close
    # The client's address for Canopy's sign-in throttling
    # (CANOPY_TRUSTED_PROXIES names this balancer).
    option forwardfor

frontend canopy
    bind 127.0.0.1:%d
    default_backend instances

backend instances
    balance roundrobin
    # A POST (sign-in, a form) that reached an instance is never resent
    # because its answer was lost: it may have been committed. Only a
    # connection failure retries it.
    http-request disable-l7-retry unless METH_GET || METH_HEAD
    # Readiness, not health: /readyz answers 503 from SIGTERM on (the
    # instance drains) and never asks the database, so a database outage
    # does not take every instance out of rotation.
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 250ms fastinter 250ms downinter 250ms fall 2 rise 2
    # Which instance answered, for the test (leave it out in production).
    http-response set-header X-Served-By %%s
%s
listen stats
    bind 127.0.0.1:%d
    stats enable
    stats uri /stats
`

// startHAProxy writes the configuration for the instances and starts it.
func startHAProxy(t *testing.T, dir string, port int, instances []*instance) *haproxy {
	t.Helper()
	h := &haproxy{port: port, statsPort: freePort(t), config: filepath.Join(dir, "haproxy.cfg")}
	var servers strings.Builder
	for _, in := range instances {
		fmt.Fprintf(&servers, "    server %s %s check\n", in.name, in.addr())
	}
	cfg := fmt.Sprintf(haproxyConfig, port, servers.String(), h.statsPort)
	if err := os.WriteFile(h.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "haproxy", "-c", "-q", "-f", h.config)
	h.proc = startProcess(t, "haproxy", filepath.Join(dir, "haproxy.log"), os.Environ(), "haproxy", "-db", "-f", h.config)
	return h
}

// serverStatus is HAProxy's view of each instance: UP, DOWN, …
func (h *haproxy) serverStatus() (map[string]string, error) {
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats;csv", h.statsPort))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	r := csv.NewReader(bufio.NewReader(res.Body))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("stats: empty")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(name, "# ")] = i
	}
	out := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) > col["status"] && row[col["pxname"]] == "instances" && row[col["svname"]] != "BACKEND" {
			out[row[col["svname"]]] = row[col["status"]]
		}
	}
	return out, nil
}

// waitStatus waits until HAProxy sees the instance in state want (UP, or
// DOWN: a draining instance fails its readiness checks).
func (h *haproxy) waitStatus(name, want string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last map[string]string
	var err error
	for time.Now().Before(deadline) {
		if last, err = h.serverStatus(); err == nil && strings.HasPrefix(last[name], want) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("HAProxy does not see %s %s within %s: %w", name, want, limit, err)
	}
	return fmt.Errorf("HAProxy does not see %s %s within %s (its view: %v)", name, want, limit, last)
}

// pgbouncer pools the instances' connections in transaction mode.
type pgbouncer struct {
	port int
	dir  string
	proc *process
}

// pgbouncerConfig is the test's PgBouncer: transaction pooling in front of
// the private cluster. %s are filled in by startPgBouncer.
const pgbouncerConfig = `[databases]
%s = host=127.0.0.1 port=%d dbname=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
stats_users = %s
max_client_conn = 1000
default_pool_size = 40
`

// startPgBouncer runs Debian's pgbouncer as the postgres system user (it
// refuses to run as root), so its folder is readable by that user.
func startPgBouncer(t *testing.T, pg *postgres) *pgbouncer {
	t.Helper()
	dir, err := os.MkdirTemp("", "canopy-cluster-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &pgbouncer{port: freePort(t), dir: dir}
	users := filepath.Join(dir, "userlist.txt")
	// auth_type trust still wants the users listed: the server, and the
	// owner, who may read the admin console's statistics.
	if err := os.WriteFile(users, []byte(`"`+serverRole+`" ""`+"\n"+`"`+ownerRole+`" ""`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ini := filepath.Join(dir, "pgbouncer.ini")
	cfg := fmt.Sprintf(pgbouncerConfig, dbName, pg.port, dbName, b.port, users, ownerRole)
	if err := os.WriteFile(ini, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	b.proc = startProcess(t, "pgbouncer", filepath.Join(dir, "pgbouncer.log"), os.Environ(), "pgbouncer", "-u", "postgres", ini)
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.port), time.Second)
		if err == nil {
			_ = conn.Close()
			return b
		}
		if time.Now().After(deadline) || !b.proc.running() {
			t.Fatalf("pgbouncer does not listen: %v\n%s", err, b.proc.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// url is the server role's connection through PgBouncer. pgx prepares and
// caches named statements by default, which PgBouncer's transaction mode
// (1.18) cannot follow from one server connection to the next;
// default_query_exec_mode=exec sends each statement unnamed, in one round
// trip with its parameters.
func (b *pgbouncer) url() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable&default_query_exec_mode=exec", serverRole, b.port, dbName)
}

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// logf reports a line to the test log and to standard output, so CI shows
// it whether or not the test fails.
func logf(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	stdoutMu.Lock()
	fmt.Println("cluster: " + line)
	stdoutMu.Unlock()
}

var stdoutMu sync.Mutex
