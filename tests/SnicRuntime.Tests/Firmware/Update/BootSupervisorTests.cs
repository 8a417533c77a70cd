using SnicRuntime.Contracts.Images;
using SnicRuntime.Firmware.Update;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Update;

/// <summary>
/// The A/B boot supervisor with stand-in firmware (shell scripts in signed images, installed by the
/// real slot store): commit on health, roll back on an early exit or a silent hang, reboot on request.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BootSupervisorTests : IDisposable
{
    private readonly ImageFixture _f = new();
    private readonly List<string> _log = [];

    public void Dispose() => _f.Dispose();

    private SlotStore Store()
    {
        string factory = _f.Path("factory");
        Directory.CreateDirectory(factory);
        return new SlotStore(_f.Path("slots"), factory);
    }

    private BootSupervisor Supervisor(SlotStore store, double healthSeconds = 10)
    {
        Directory.CreateDirectory(store.Directory);
        string factory = _f.Write("factory/bin/snic-firmware", ImageFixture.HealthyScript());
        File.SetUnixFileMode(factory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new BootSupervisor(store, TimeSpan.FromSeconds(healthSeconds), [], null, line => { lock (_log) { _log.Add(line); } }, factory);
    }

    private string Install(SlotStore store, string name, string script, string version = "2.0.0")
    {
        Directory.CreateDirectory(store.Directory);
        string image = _f.Pack(name, script, version);
        using FileStream s = File.OpenRead(image);
        return store.Install(s, ImageVerifier.Verify(s, [_f.Key], "emulated"));
    }

    [Fact]
    public void A_trial_that_reports_healthy_is_committed()
    {
        SlotStore store = Store();
        BootSupervisor boot = Supervisor(store);
        Assert.Equal("a", Install(store, "good", ImageFixture.HealthyScript()));
        Assert.Equal("a", store.State().Trial);
        Assert.Equal(0, boot.Run(CancellationToken.None));
        BootState s = store.State();
        Assert.Equal("a", s.Active);
        Assert.Null(s.Trial);
        Assert.Equal(SlotStore.Factory, s.Previous);
        Assert.Equal("a committed (2.0.0)", s.LastResult);
        Assert.Equal("2.0.0", store.Manifest("a")!.Version);
        // The next image goes to the other slot; the running one is not touched.
        Assert.Equal("b", Install(store, "next", ImageFixture.HealthyScript(), "2.1.0"));
        Assert.Equal("2.0.0", store.Manifest("a")!.Version);
    }

    [Fact]
    public void A_trial_that_exits_before_reporting_healthy_is_rolled_back()
    {
        SlotStore store = Store();
        BootSupervisor boot = Supervisor(store);
        Install(store, "crash", "#!/bin/sh\necho 'cannot run this board' >&2\nexit 3\n");
        Assert.Equal(0, boot.Run(CancellationToken.None)); // then the factory firmware ran and finished
        BootState s = store.State();
        Assert.Equal(SlotStore.Factory, s.Active);
        Assert.Null(s.Trial);
        Assert.Equal("rolled back from a (2.0.0) to factory: it exited with code 3 before reporting healthy", s.LastResult);
        Assert.Equal(2, s.BootCount);
    }

    [Fact]
    public void A_trial_that_never_reports_healthy_is_stopped_and_rolled_back_in_time()
    {
        SlotStore store = Store();
        BootSupervisor boot = Supervisor(store, healthSeconds: 1);
        Install(store, "hang", "#!/bin/sh\nexec sleep 60\n");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, boot.Run(CancellationToken.None));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Equal("rolled back from a (2.0.0) to factory: it did not report healthy within 1 s", store.State().LastResult);
    }

    [Fact]
    public void A_reboot_request_boots_again_and_repeated_crashes_give_up()
    {
        SlotStore store = Store();
        BootSupervisor boot = Supervisor(store);
        string counter = _f.Path("boots");
        // Healthy; the first run asks for a reboot (exit 75), the second finishes.
        Install(store, "reboot", ImageFixture.HealthyScript(0, $"n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; [ $n -eq 0 ] && {{ echo healthy > \"$h\"; exit 75; }}"));
        Assert.Equal(0, boot.Run(CancellationToken.None));
        Assert.Equal("2", File.ReadAllText(counter).Trim());
        Assert.Equal("a", store.State().Active);
        Assert.Contains(_log, l => l.Contains("asked for a reboot", StringComparison.Ordinal));

        // A committed slot that keeps crashing: the supervisor stops after three.
        File.WriteAllText(counter, "0");
        Install(store, "flaky", ImageFixture.HealthyScript(0, $"n=$(cat {counter}); echo $((n+1)) > {counter}; [ $n -gt 0 ] && exit 9"));
        Assert.Equal(0, boot.Run(CancellationToken.None)); // the trial: healthy, committed, finished
        Assert.Equal("b", store.State().Active);
        Assert.Equal(1, boot.Run(CancellationToken.None)); // the next start crashes three times in a row
        Assert.Equal("4", File.ReadAllText(counter).Trim());
        Assert.Contains(_log, l => l.Contains("(3 of 3 crashes in a row)", StringComparison.Ordinal));
    }
}
