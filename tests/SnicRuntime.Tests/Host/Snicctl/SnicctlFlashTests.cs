using SnicRuntime.TestKit;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>
/// Flashing as a user does it, with the NativeAOT firmware as the card: <c>snic-firmware boot</c>
/// supervises A/B slots; <c>snicctl image build</c> signs images; <c>snicctl flash</c> uploads,
/// the card verifies and installs, reboots into the new slot and commits it once it reports
/// healthy. A corrupted image, an image for another board and a firmware that cannot start are
/// each refused or rolled back, and the card keeps running what it had.
/// </summary>
[Collection("processes")]
public sealed class SnicctlFlashTests : IDisposable
{
    private const string Token = "snicctl-flash-test-token-0123";
    private readonly string _dir = Directory.CreateTempSubdirectory("snicctl-flash-").FullName;
    private readonly List<Process> _processes = [];
    private readonly ConcurrentQueue<string> _log = new();

    public void Dispose()
    {
        foreach (Process p in _processes.Where(p => !p.HasExited))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10_000);
        }

        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The NativeAOT firmware ./test.sh publishes before the tests (./firmware/publish.sh).</summary>
    internal static string AotFirmware => Path.Combine(TestPaths.RepoRoot, "out", "firmware", "linux-x64", "snic-firmware");

    private string[] Args(params string[] args) => [.. args, "--state", Path.Combine(_dir, "state")];

    private (int Code, string Out, string Err) Snicctl(params string[] args) => SnicctlProcess.Run(Args(args));

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private Process Start(string file, IEnumerable<string> args, string name)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        Process p = LoggedProcess.Start(psi, _log, $"{name}: ");
        _processes.Add(p);
        return p;
    }

    private string Image(string name, string version, string? config = null, string board = "emulated")
    {
        string output = Path.Combine(_dir, name + ".snimg");
        var args = new List<string> { "image", "build", "--board", board, "--firmware", Path.GetDirectoryName(AotFirmware)!, "--version", version, "--out", output };
        if (config is not null)
        {
            args.AddRange(["--config", config]);
        }

        var r = Snicctl([.. args]);
        Assert.True(r.Code == 0, r.Out + r.Err);
        return output;
    }

    private string Log => string.Join('\n', _log.TakeLast(40));

    [SkippableFact]
    public void Flash_commits_a_healthy_image_and_refuses_or_rolls_back_bad_ones_while_the_card_keeps_running()
    {
        Skip.IfNot(File.Exists(AotFirmware), $"needs the NativeAOT firmware at {AotFirmware} (./firmware/publish.sh; ./test.sh publishes it first)");
        File.WriteAllText(Path.Combine(_dir, "token"), Token);
        string good = Image("good", "2.0.0-flash-test"); // also makes the signing key the card trusts
        string trust = Path.Combine(_dir, "state", "keys", "image-signing.pub");
        Assert.True(File.Exists(trust));

        int port = FreePort();
        string board = Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json");
        Process card = Start(AotFirmware, ["boot", "--slots", Path.Combine(_dir, "slots"), "--board", board, "--health-timeout", "20", "--",
            "--agent", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--agent-token-file", Path.Combine(_dir, "token"),
            "--image-trust", trust, "--seconds", "120", "--plan-wait", "120"], "card"); // no --workers here: an image's config must be able to set it
        Assert.Equal(0, Snicctl("cards", "add", "card1", "--address", $"http://127.0.0.1:{port}", "--token-file", Path.Combine(_dir, "token")).Code);

        // 1. A good image, by its name in the fleet's catalogue (image build put it there):
        // installed in slot a, rebooted into, committed.
        var r = Snicctl("flash", "card1", "emulated@2.0.0-flash-test");
        Assert.True(r.Code == 0, $"{r.Out}{r.Err}\n{Log}");
        Assert.Contains("installed it in slot a", r.Out);
        Assert.Contains("runs slot a (2.0.0-flash-test): a committed (2.0.0-flash-test)", r.Out);

        // 2. The same image with one byte of the binary changed: the card refuses it, names the file.
        string corrupt = Path.Combine(_dir, "corrupt.snimg");
        File.Copy(good, corrupt);
        (long offset, long _) = SnicRuntime.Contracts.Images.ImageArchive.Index(corrupt)["bin/snic-firmware"];
        using (var f = new FileStream(corrupt, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = offset + 4096;
            f.WriteByte(0xcc);
        }

        r = Snicctl("flash", "card1", corrupt);
        Assert.Equal(1, r.Code);
        Assert.Contains("refused the image", r.Err);
        Assert.Contains("bin/snic-firmware: SHA-256", r.Err);

        // 3. An image for another board (same binary, a board file the card is not).
        string otherBoard = Path.Combine(_dir, "emulated-other.json");
        File.WriteAllText(otherBoard, File.ReadAllText(board).Replace("\"id\": \"emulated\"", "\"id\": \"emulated-other\"", StringComparison.Ordinal));
        r = Snicctl("flash", "card1", Image("other", "9.9.9", board: otherBoard));
        Assert.Equal(1, r.Code);
        Assert.Contains("the image is for board 'emulated-other', this card is 'emulated'", r.Err);

        // 4. A signed image whose firmware cannot start (its default config asks for 64 workers on
        // this 2-core machine): installed in slot b, it exits before reporting healthy, and the
        // card rolls back to slot a by itself.
        string config = Path.Combine(_dir, "bad-config.json");
        File.WriteAllText(config, "{ \"workers\": 64 }");
        r = Snicctl("flash", "card1", Image("bad", "3.0.0-broken", config));
        Assert.True(r.Code == 1, $"{r.Out}{r.Err}\n{Log}");
        Assert.Contains("installed it in slot b", r.Out);
        Assert.Contains("rolled back from b (3.0.0-broken) to a: it exited with code 3 before reporting healthy", r.Err);
        Assert.Contains("it runs slot a (2.0.0-flash-test)", r.Err);
        Assert.True(SpinWait.SpinUntil(() => _log.Any(l => l.Contains("64 dataplane cores", StringComparison.Ordinal)), 10_000), Log); // its own reason, in its log

        // 4b. A catalogued image whose file was replaced afterwards is refused before any upload,
        // and a version names one image: building another under it is refused by name.
        File.Copy(corrupt, Path.Combine(_dir, "bad.snimg"), overwrite: true);
        r = Snicctl("flash", "card1", "emulated@3.0.0-broken");
        Assert.Equal(1, r.Code);
        Assert.Contains("is no longer the image catalogued as emulated@3.0.0-broken", r.Err);
        r = Snicctl("image", "build", "--board", "emulated", "--firmware", Path.GetDirectoryName(AotFirmware)!, "--version", "2.0.0-flash-test",
            "--config", config, "--out", Path.Combine(_dir, "again.snimg"));
        Assert.Equal(1, r.Code);
        Assert.Contains("emulated@2.0.0-flash-test is already in the catalogue as another image", r.Err);
        r = Snicctl("image", "list");
        Assert.Equal(0, r.Code);
        Assert.Contains("emulated@2.0.0-flash-test", r.Out);
        Assert.Contains("emulated-other@9.9.9", r.Out);
        Assert.DoesNotContain("again.snimg", r.Out);

        // The card is up on slot a after all of it.
        r = Snicctl("cards", "show", "card1");
        Assert.True(r.Code == 0, r.Out + r.Err);
        Assert.False(card.HasExited, Log);

        // 5. A card started without the boot supervisor cannot be flashed, and says why.
        int plainPort = FreePort();
        Start(AotFirmware, ["--board", board, "--agent", plainPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--agent-token-file",
            Path.Combine(_dir, "token"), "--seconds", "60", "--plan-wait", "60", "--workers", "1"], "plain");
        Assert.Equal(0, Snicctl("cards", "add", "plain", "--address", $"http://127.0.0.1:{plainPort}", "--token-file", Path.Combine(_dir, "token")).Code);
        var clock = Stopwatch.StartNew();
        do
        {
            r = Snicctl("flash", "plain", good);
        }
        while (r.Code == 4 && clock.Elapsed < TimeSpan.FromSeconds(20)); // until its agent listens
        Assert.Equal(1, r.Code);
        Assert.Contains("runs without a boot supervisor", r.Err);

        // SIGTERM reaches the firmware through the supervisor, which then exits.
        _ = Kill(card.Id, 15);
        Assert.True(card.WaitForExit(30_000), Log);
        card.WaitForExit(); // and its output read to the end
        Assert.Contains(_log, l => l.Contains("snic-boot: boot: slot a stopped", StringComparison.Ordinal));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
