package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is `canopy serve` running as a child process.
type server struct {
	cmd     *exec.Cmd
	addr    string            // 127.0.0.1:port, where every host name is dialled
	baseURL string            // http://localhost:port, the sign-in domain
	env     map[string]string // the configuration it was started with
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // why it exited, once done is closed
}

// freePort asks the kernel for an unused loopback port. Another program
// could take it before the server binds it; on this machine that is unlikely.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer builds the binary and starts it. A built binary, not `go run`,
// so the process whose memory we sample is the server itself.
func startServer(ctx context.Context, dir, ownerURL, appURL, logLevel string) (*server, error) {
	bin := filepath.Join(dir, "canopy")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/canopy")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build canopy: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	s := &server{
		addr:    "127.0.0.1:" + strconv.Itoa(port),
		baseURL: "http://localhost:" + strconv.Itoa(port),
		logPath: filepath.Join(dir, "server.log"),
	}
	s.env = map[string]string{
		"CANOPY_ADDR":     s.addr,
		"CANOPY_BASE_URL": s.baseURL,
		"CANOPY_DATA_DIR": filepath.Join(dir, "data"),
		// Known to the benchmark too, so its in-process EXPLAIN pass can read
		// the sessions the server issued.
		"CANOPY_SESSION_KEY": base64.StdEncoding.EncodeToString(key),
		"CANOPY_LOG_LEVEL":   logLevel,
		"DATABASE_URL":       appURL,
		"DATABASE_OWNER_URL": ownerURL,
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = os.Environ()
	for k, v := range s.env {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start canopy: %w", err)
	}
	s.done = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := s.waitHealthy(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\nlast lines of %s:\n%s", err, s.logPath, tail(s.logPath, 15))
	}
	return s, nil
}

// waitHealthy polls /healthz; start-up runs the migrations, which on a large
// database may take a while.
func (s *server) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Minute)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("canopy serve exited during start-up: %w", s.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		res, err := c.Get("http://" + s.addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("canopy serve did not answer /healthz within 5 minutes")
}

// stop asks the server to finish its requests and exit, as a deployment would.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// memory reads the server's resident set (VmRSS) and its peak (VmHWM) in bytes.
func (s *server) memory() (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(value) // "123456 kB"
		if len(fields) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[0], 10, 64)
		switch name {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
