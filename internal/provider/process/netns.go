package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Environment of the replica init step (see ReplicaInitMain).
const (
	envInit        = "GOFAAS_REPLICA_INIT" // "1" for a replica, "probe" for the trial run
	envInitSecrets = "GOFAAS_INIT_SECRETS" // host dir bound read-only at SecretsMountPath
	envInitTmp     = "GOFAAS_INIT_TMP"     // host dir bound at /tmp
	initProbeOK    = "gofaas-replica-init-ok"
)

// SecretsMountPath is where a netns replica finds its secrets.
const SecretsMountPath = "/var/openfaas/secrets"

// IsReplicaInit reports whether this process was started by the process
// back-end as the init step of a netns replica. A binary that uses the
// back-end must check it first thing in main and then call ReplicaInitMain.
func IsReplicaInit() bool {
	return os.Getenv(envInit) != ""
}

// ReplicaInitMain runs the init step of a netns replica inside its new
// network and mount namespaces: it brings up lo, makes mounts private,
// binds the secrets and temporary directories and executes the replica's
// program (os.Args[1:]). It does not return: on failure it prints the error
// and exits with status 127.
func ReplicaInitMain() {
	mode := os.Getenv(envInit)
	err := replicaInit(mode)
	if err == nil && mode == "probe" {
		fmt.Println(initProbeOK)
		os.Exit(0)
	}
	if err == nil {
		err = execReplica(os.Args[1:], os.Environ())
	}
	fmt.Fprintf(os.Stderr, "gofaas replica init: %v\n", err)
	os.Exit(127)
}

// replicaInit prepares the namespaces; mode "probe" stops after lo and
// the private mounts.
func replicaInit(mode string) error {
	if err := loopbackUp(); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if mode == "probe" {
		return nil
	}
	if dir := os.Getenv(envInitSecrets); dir != "" {
		if err := bindMount(dir, SecretsMountPath, true); err != nil {
			return err
		}
	}
	if dir := os.Getenv(envInitTmp); dir != "" {
		if err := bindMount(dir, "/tmp", false); err != nil {
			return err
		}
	}
	return nil
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("setting flags: %w", err)
	}
	return nil
}

func bindMount(src, dst string, readOnly bool) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding %s at %s: %w", src, dst, err)
	}
	if !readOnly {
		return nil
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return fmt.Errorf("making %s read-only: %w", dst, err)
	}
	return nil
}

// execReplica replaces this process with the replica's program, dropping
// the init variables from its environment.
func execReplica(argv, environ []string) error {
	if len(argv) == 0 {
		return errors.New("no program to run")
	}
	env := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if k != envInit && k != envInitSecrets && k != envInitTmp {
			env = append(env, kv)
		}
	}
	if err := unix.Exec(argv[0], argv, env); err != nil {
		return fmt.Errorf("executing %s: %w", argv[0], err)
	}
	return nil
}

// netnsSysProcAttr starts a child in new network and mount namespaces, in
// its own process group, killed when gofaas dies.
func netnsSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
	}
}

// probeNetns checks that exe, re-executed as a replica init in new
// namespaces, works. The -test.run argument keeps a Go test binary that
// does not call ReplicaInitMain from running its tests again.
func probeNetns(ctx context.Context, exe string) error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	if exe == "" {
		return errors.New("the executable path is unknown")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envInit+"=probe")
	cmd.SysProcAttr = netnsSysProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("trial replica init: %w: %s", err, bytes.TrimSpace(out))
	}
	if !bytes.Contains(out, []byte(initProbeOK)) {
		return errors.New("trial replica init: the binary does not call process.ReplicaInitMain")
	}
	return nil
}
