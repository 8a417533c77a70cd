using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace SnicRuntime.TestKit.Store;

/// <summary>
/// A real etcd cluster on loopback (Debian's etcd-server): N member processes with their own data
/// directories and ports, fast elections (50 ms heartbeat, 500 ms election timeout, as a LAN
/// deployment would tune them), and the faults the fleet must survive: SIGKILL a member, the
/// leader, or a quorum, and restart them. etcdctl, not our client, says who leads and who is healthy.
/// </summary>
public sealed class EtcdCluster : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-etcd-").FullName;
    private readonly Member[] _members;
    private readonly EtcdPki? _pki;
    private readonly string _ctl = "";

    private sealed record Member(string Name, int ClientPort, int PeerPort, bool Tls)
    {
        public Process? Process { get; set; }

        public string ClientUrl => $"{(Tls ? "https" : "http")}://127.0.0.1:{ClientPort}";

        public string PeerUrl => $"http://127.0.0.1:{PeerPort}";
    }

    /// <summary>Why a cluster cannot run here, or null: etcd and etcdctl must be installed.</summary>
    public static string? Unavailable =>
        TestPaths.FindProgram("etcd") is null || TestPaths.FindProgram("etcdctl") is null
            ? "etcd is not installed (apt-get install etcd-server etcd-client); ./test.sh installs it"
            : null;

    /// <summary>
    /// Starts <paramref name="members"/> members. With <paramref name="pki"/>, clients must speak TLS
    /// and present a certificate of its authority (<c>--client-cert-auth</c>), and etcd's own auth is
    /// enabled with a root user (this kit's etcdctl calls use a client certificate named root).
    /// </summary>
    public EtcdCluster(int members = 3, EtcdPki? pki = null)
    {
        _pki = pki;
        int[] ports = LoopbackPorts.Free(2 * members);
        _members = Enumerable.Range(0, members).Select(i => new Member($"m{i}", ports[2 * i], ports[2 * i + 1], pki is not null)).ToArray();
        if (pki is not null)
        {
            (string cert, string key) = pki.Client("root");
            _ctl = $"--cacert={pki.CaFile} --cert={cert} --key={key} ";
        }

        for (int i = 0; i < members; i++)
        {
            Start(i);
        }

        WaitHealthy(_members.Length, TimeSpan.FromSeconds(30));
        if (pki is not null)
        {
            Ctl("user add root --new-user-password=root-password-0");
            Ctl("auth enable");
        }
    }

    /// <summary>Runs etcdctl against this cluster (its endpoints and, with TLS, the root certificate); throws when it fails.</summary>
    public string Ctl(string arguments)
    {
        (int code, string output) = Etcdctl($"{_ctl}--endpoints={string.Join(',', _members.Where(m => m.Process is { HasExited: false }).Select(m => m.ClientUrl))} {arguments}");
        return code == 0 ? output : throw new InvalidOperationException($"etcdctl {arguments}: exit {code}: {output}");
    }

    /// <summary>The client endpoints, HOST:PORT comma-separated, as <c>etcd://</c> addresses take them.</summary>
    public string Endpoints => string.Join(',', _members.Select(m => $"127.0.0.1:{m.ClientPort}"));

    public int Size => _members.Length;

    public bool IsRunning(int member) => _members[member].Process is { HasExited: false };

    /// <summary>SIGKILL: no goodbye to its peers, as a crash or a power cut.</summary>
    public void Kill(int member)
    {
        Process? p = _members[member].Process;
        if (p is { HasExited: false })
        {
            p.Kill();
            p.WaitForExit();
        }
    }

    public void Restart(int member)
    {
        Kill(member);
        Start(member);
    }

    /// <summary>The index of the member that leads now, as etcdctl reports it (waits for an election to finish).</summary>
    public int Leader(TimeSpan? wait = null)
    {
        DateTime deadline = DateTime.UtcNow + (wait ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            for (int i = 0; i < _members.Length; i++)
            {
                if (!IsRunning(i))
                {
                    continue;
                }

                (int code, string output) = Etcdctl($"{_ctl}--endpoints={_members[i].ClientUrl} endpoint status -w json");
                if (code != 0)
                {
                    continue;
                }

                using JsonDocument doc = JsonDocument.Parse(output);
                JsonElement status = doc.RootElement[0].GetProperty("Status");
                ulong leader = status.GetProperty("leader").GetUInt64();
                ulong self = status.GetProperty("header").GetProperty("member_id").GetUInt64();
                if (leader != 0 && leader == self)
                {
                    return i;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("no etcd member leads");
            }

            Thread.Sleep(50);
        }
    }

    /// <summary>Waits until <paramref name="count"/> members answer etcdctl's health check (a quorum read).</summary>
    public void WaitHealthy(int count, TimeSpan wait)
    {
        DateTime deadline = DateTime.UtcNow + wait;
        while (true)
        {
            int healthy = _members.Where(m => m.Process is { HasExited: false })
                .Count(m => Etcdctl($"{_ctl}--endpoints={m.ClientUrl} endpoint health").Code == 0);
            if (healthy >= count)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"etcd: {healthy} of {count} members healthy after {wait.TotalSeconds} s; logs in {_dir}");
            }

            Thread.Sleep(100);
        }
    }

    /// <summary>Runs etcdctl (API v3) and returns its exit code and standard output.</summary>
    public static (int Code, string Output) Etcdctl(string arguments)
    {
        var start = new ProcessStartInfo("etcdctl", $"--dial-timeout=1s --command-timeout=2s {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ETCDCTL_API"] = "3";
        using Process p = Process.Start(start)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, p.ExitCode == 0 ? stdout.Result : stdout.Result + stderr);
    }

    private void Start(int i)
    {
        Member m = _members[i];
        string cluster = string.Join(',', _members.Select(x => $"{x.Name}={x.PeerUrl}"));
        string data = Path.Combine(_dir, m.Name);
        var start = new ProcessStartInfo("etcd",
            $"--name {m.Name} --data-dir {data} --listen-client-urls {m.ClientUrl} --advertise-client-urls {m.ClientUrl} " +
            $"--listen-peer-urls {m.PeerUrl} --initial-advertise-peer-urls {m.PeerUrl} --initial-cluster {cluster} " +
            "--initial-cluster-state new --initial-cluster-token snic-test --heartbeat-interval 50 --election-timeout 500 " +
            $"--log-outputs {Path.Combine(_dir, m.Name + ".log")} --logger zap" +
            (_pki is null ? "" : $" --cert-file {_pki.ServerCert} --key-file {_pki.ServerKey} --client-cert-auth --trusted-ca-file {_pki.CaFile}"))
        {
            RedirectStandardOutput = false,
            RedirectStandardError = false,
        };
        m.Process = Process.Start(start);
    }

    public void Dispose()
    {
        for (int i = 0; i < _members.Length; i++)
        {
            Kill(i);
            _members[i].Process?.Dispose();
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
