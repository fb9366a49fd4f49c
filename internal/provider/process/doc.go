// Package process is the embedded default back-end of gofaas: every replica
// of a function is a supervised child process of gofaas, started from the
// function's image unpacked on disk (by internal/registry), health-checked,
// restarted with backoff and load-balanced. Function state lives in
// internal/store, so functions come back at their replica counts after a
// restart.
//
// It imports internal/provider, internal/store, internal/registry (for the
// Image type), internal/version, pkg/api, golang.org/x/sys/unix and the
// standard library; never another back-end or the gateway.
//
// # Running a replica
//
// A replica runs the image's entrypoint (Entrypoint followed by Cmd; an
// absolute program path, and any absolute argument that exists in the
// image, is mapped under the unpacked root). Its environment is, in order
// (later wins): the image's Env, the function's envVars, fprocess=envProcess
// when set, prefix_logs=false and healthcheck_interval=0 unless the
// function or image sets them (the back-end takes a replica out of rotation
// before it sends SIGTERM, so the watchdog drains at once), and then:
//
//   - PATH: the image's PATH entries mapped under the root, then the PATH of
//     gofaas itself, so "python3 index.py" uses the host's interpreter while
//     binaries shipped in the image win;
//   - TMPDIR: a private temporary directory per replica (the watchdog's lock
//     file is $TMPDIR/.lock);
//   - OPENFAAS_SECRETS_DIR: a directory holding a copy (mode 0600) of every
//     secret the function names, refreshed when a secret is updated;
//   - GOFAAS_REPLICA: the replica's instance name (also the "instance" of
//     its log lines).
//
// The working directory is the image's WorkingDir under the root (or the
// root). Each line the replica writes to stdout or stderr is time-stamped
// and appended to the function's log (NDJSON, rotated at Config.LogMaxBytes,
// one previous file kept). A replica is available once GET /_/health answers
// 200 and stays available while the periodic check passes; a replica that
// exits is restarted after 100ms, doubling up to 30s, and the delay is reset
// once it has been healthy for a while.
//
// # Isolation modes
//
// Config.Isolation selects how replicas are kept apart on the network:
//
//   - "ports": replicas share the host's network. For each start the
//     back-end picks free loopback ports and passes them in the environment:
//     port=<p> for the watchdog, metrics_port=0, and when the image or
//     function sets upstream_url (of-watchdog http mode) it is replaced with
//     http://127.0.0.1:<p2> and http_port=<p2> is set, so two replicas never
//     collide even if the function would otherwise use a fixed port. The
//     gateway reaches the replica at http://127.0.0.1:<p>. Secrets are read
//     from $OPENFAAS_SECRETS_DIR and temporary files go to $TMPDIR; the
//     function cannot use /var/openfaas/secrets or a private /tmp. Works
//     without root.
//   - "netns": each replica gets its own network and mount namespace. The
//     back-end re-executes its own binary with GOFAAS_REPLICA_INIT set; that
//     step (ReplicaInitMain, which main must call first thing) brings up the
//     loopback interface, makes all mounts private, bind-mounts the
//     function's secrets read-only at /var/openfaas/secrets and the replica's
//     temporary directory at /tmp (unless the data dir or the image is under
//     /tmp, which the bind would hide: then TMPDIR names the replica's
//     directory instead), and then executes the entrypoint. The
//     watchdog keeps its default ports (8080, upstream 8082) inside its own
//     namespace (http_port is set to upstream_url's port when unset, so
//     templates reading it work in both modes) and serves on the Unix socket named by
//     unix_socket=<replica dir>/watchdog.sock, which the gateway dials. Needs
//     root (CAP_SYS_ADMIN).
//   - "auto" (the default): netns when running as root and a trial replica
//     init in new namespaces succeeds, otherwise ports.
//
// # Limits
//
// Memory and CPU limits are Kubernetes quantities ("128Mi", "100m"), parsed
// strictly at deploy. They are enforced through cgroup v2 when
// <CgroupRoot>/cgroup.controllers offers memory and cpu and a "gofaas"
// child cgroup can be set up: each replica gets its own cgroup with
// memory.max and cpu.max. Otherwise they are stored and returned but not
// enforced (a warning is logged once; see LimitsEnforced).
//
// readOnlyRootFilesystem, constraints and GPU resources are stored and
// returned as deployed but have no effect on this back-end.
//
// # Crash safety
//
// Children get Pdeathsig SIGKILL and their own process group. The pid and
// start time of every replica are recorded in its directory; Start kills any
// such process (and its group) still alive from a previous run before
// restoring the stored functions.
package process
