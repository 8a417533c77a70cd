using System.Diagnostics;

namespace SnicRuntime.Tests.Hal.Core;

/// <summary>
/// A network namespace of the test's own with a veth pair (snica ↔ snicb) inside, IPv6 off so the kernel
/// sends nothing of its own on them; removed on dispose. Needs root and iproute2: otherwise
/// <see cref="Unavailable"/> says why, and tests skip saying so.
/// </summary>
internal sealed class NetNamespace : IDisposable
{
    private static int s_next;

    public NetNamespace()
    {
        Name = $"snic-t{Environment.ProcessId}-{Interlocked.Increment(ref s_next)}";
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            Unavailable = "needs root on Linux (network namespaces and AF_PACKET); ./test.sh runs as root in CI";
            return;
        }

        string? failed = Ip($"netns add {Name}") ?? Ip($"-n {Name} link add snica type veth peer name snicb")
            ?? Run("ip", $"netns exec {Name} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
            ?? Run("ip", $"netns exec {Name} sysctl -qw net.ipv6.conf.snica.disable_ipv6=1 net.ipv6.conf.snicb.disable_ipv6=1")
            ?? Ip($"-n {Name} link set snica up") ?? Ip($"-n {Name} link set snicb up");
        if (failed is not null)
        {
            Unavailable = $"cannot make a network namespace with a veth pair here: {failed}";
        }
    }

    public string Name { get; }

    /// <summary>Adds another veth pair (both ends up, IPv6 off); the reason when it could not.</summary>
    public string? AddPair(string a, string b) =>
        Ip($"-n {Name} link add {a} type veth peer name {b}")
        ?? Run("ip", $"netns exec {Name} sysctl -qw net.ipv6.conf.{a}.disable_ipv6=1 net.ipv6.conf.{b}.disable_ipv6=1")
        ?? Ip($"-n {Name} link set {a} up") ?? Ip($"-n {Name} link set {b} up");

    public string? Unavailable { get; }

    /// <summary>
    /// Sets a link up or down and waits until the kernel's link watcher has applied it (its
    /// operational state): until then an interface just set up still drops what it is given.
    /// </summary>
    public void SetLink(string device, bool up)
    {
        Ip($"-n {Name} link set {device} {(up ? "up" : "down")}");
        string want = up ? "state UP" : "state DOWN";
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(5) && !Output("ip", $"-n {Name} -o link show dev {device}").Contains(want, StringComparison.Ordinal))
        {
            Thread.Sleep(20);
        }
    }

    private static string Output(string file, string args)
    {
        using Process p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string o = p.StandardOutput.ReadToEnd();
        p.WaitForExit(10_000);
        return o;
    }

    private static string? Ip(string args) => Run("ip", args);

    private static string? Run(string file, string args)
    {
        try
        {
            using Process p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit(10_000);
            return p.ExitCode == 0 ? null : $"{file} {args}: {err.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{file}: {e.Message}";
        }
    }

    public void Dispose()
    {
        if (Unavailable is null || Unavailable.StartsWith("cannot", StringComparison.Ordinal))
        {
            Ip($"netns del {Name}");
        }
    }
}
