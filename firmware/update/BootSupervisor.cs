using SnicRuntime.Contracts.Images;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SnicRuntime.Firmware.Update;

/// <summary>
/// <c>snic-firmware boot</c>: what a bootloader with A/B slots does, as the card's first process.
/// Starts the slot that should run; a slot on trial must report healthy (write its health file)
/// within the timeout or it is stopped and the card boots the slot it had before — by itself,
/// with no management plane involved (U-Boot's bootcount and Android's A/B updates work alike).
/// The firmware asks for a reboot into a newly installed slot by exiting with <see cref="RebootExitCode"/>.
/// </summary>
/// <param name="factoryEntry">The factory firmware's executable (the supervisor's own binary on a card).</param>
public sealed partial class BootSupervisor(SlotStore store, TimeSpan healthTimeout, IReadOnlyList<string> firmwareArgs, string? factoryBoard, Action<string> log,
    string? factoryEntry = null)
{
    /// <summary>Exit code of a firmware that wants the supervisor to boot the next slot (EX_TEMPFAIL).</summary>
    public const int RebootExitCode = 75;

    /// <summary>A committed slot that crashes this many times in a row is given up on (exit 1).</summary>
    public const int MaxCrashes = 3;

    private const int Sigterm = 15;

    private volatile Process? _child;

    /// <summary>Boots slots until the firmware finishes (exit 0), crashes too often, or <paramref name="stop"/> fires.</summary>
    public int Run(CancellationToken stop)
    {
        using CancellationTokenRegistration forward = stop.Register(() => Signal(_child, Sigterm));
        int crashes = 0;
        while (!stop.IsCancellationRequested)
        {
            BootState state = store.State();
            string slot = state.Trial ?? state.Active;
            bool trial = state.Trial is not null;
            state.BootCount++;
            state.Save(store.StatePath);
            string health = store.HealthPath(state.BootCount);
            File.Delete(health);

            ProcessStartInfo? start = StartInfo(slot, health, out string? why);
            if (start is null)
            {
                if (trial)
                {
                    RollBack(slot, why!);
                    continue;
                }

                log($"boot: slot {slot} cannot boot ({why}); booting the factory firmware");
                state = store.State();
                state.Active = SlotStore.Factory;
                state.Save(store.StatePath);
                continue;
            }

            log($"boot {state.BootCount}: slot {slot}{(trial ? " (trial)" : "")}: {start.FileName}");
            Process child;
            try
            {
                child = Process.Start(start)!;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                if (trial)
                {
                    RollBack(slot, $"cannot start: {e.Message}");
                    continue;
                }

                log($"boot: slot {slot} cannot start: {e.Message}");
                return 1;
            }

            using (child)
            {
                _child = child;
                bool healthy = WaitHealthy(child, health, stop);
                if (trial)
                {
                    if (!healthy)
                    {
                        string reason = child.HasExited ? $"it exited with code {child.ExitCode} before reporting healthy"
                            : $"it did not report healthy within {healthTimeout.TotalSeconds:F0} s";
                        Stop(child);
                        RollBack(slot, reason);
                        continue;
                    }

                    Commit(slot);
                }
                else if (!healthy && !child.HasExited)
                {
                    log($"boot: slot {slot} has not reported healthy within {healthTimeout.TotalSeconds:F0} s; leaving it running");
                }

                child.WaitForExit();
                _child = null;
                int code = child.ExitCode;
                if (code == RebootExitCode)
                {
                    log($"boot: slot {slot} asked for a reboot");
                    crashes = 0;
                    continue;
                }

                if (code == 0 || stop.IsCancellationRequested)
                {
                    log($"boot: slot {slot} stopped (exit code {code})");
                    return code;
                }

                crashes++;
                log($"boot: slot {slot} exited with code {code} ({crashes} of {MaxCrashes} crashes in a row)");
                if (crashes >= MaxCrashes)
                {
                    return 1;
                }

                Thread.Sleep(TimeSpan.FromMilliseconds(200 * crashes));
            }
        }

        return 0;
    }

    private ProcessStartInfo? StartInfo(string slot, string health, out string? why)
    {
        why = null;
        string directory = store.SlotDirectory(slot) ?? ".";
        string entry;
        string? board;
        if (slot == SlotStore.Factory)
        {
            entry = factoryEntry ?? Environment.ProcessPath ?? "";
            board = File.Exists(Path.Combine(directory, ImageLayout.Board)) ? Path.Combine(directory, ImageLayout.Board) : factoryBoard;
        }
        else
        {
            ImageManifest? manifest;
            try
            {
                manifest = store.Manifest(slot);
            }
            catch (ImageException e)
            {
                why = e.Message;
                return null;
            }

            if (manifest is null)
            {
                why = "the slot holds no image";
                return null;
            }

            entry = Path.Combine(directory, manifest.Entry);
            board = Path.Combine(directory, ImageLayout.Board);
        }

        if (!File.Exists(entry))
        {
            why = $"{entry} is missing";
            return null;
        }

        var psi = new ProcessStartInfo(entry) { UseShellExecute = false };
        if (board is not null)
        {
            psi.ArgumentList.Add("--board");
            psi.ArgumentList.Add(board);
        }

        string config = Path.Combine(directory, ImageLayout.DefaultConfig);
        if (File.Exists(config))
        {
            psi.ArgumentList.Add("--config");
            psi.ArgumentList.Add(config);
        }

        psi.ArgumentList.Add("--slots");
        psi.ArgumentList.Add(store.Directory);
        psi.ArgumentList.Add("--boot-slot");
        psi.ArgumentList.Add(slot);
        psi.ArgumentList.Add("--boot-health");
        psi.ArgumentList.Add(health);
        foreach (string a in firmwareArgs)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    private bool WaitHealthy(Process child, string health, CancellationToken stop)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(healthTimeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline && !stop.IsCancellationRequested)
        {
            if (File.Exists(health))
            {
                return true;
            }

            if (child.WaitForExit(50))
            {
                return File.Exists(health) && child.ExitCode is 0 or RebootExitCode;
            }
        }

        return File.Exists(health);
    }

    private void Commit(string slot)
    {
        BootState state = store.State();
        string version = store.Manifest(slot)?.Version ?? "?";
        state.Previous = state.Active;
        state.Active = slot;
        state.Trial = null;
        state.LastResult = $"{slot} committed ({version})";
        state.Save(store.StatePath);
        log($"boot: slot {slot} ({version}) reported healthy; committed");
    }

    private void RollBack(string slot, string reason)
    {
        BootState state = store.State();
        string version = SafeVersion(slot);
        state.Trial = null;
        state.LastResult = $"rolled back from {slot} ({version}) to {state.Active}: {reason}";
        state.Save(store.StatePath);
        log($"boot: {state.LastResult}");
    }

    private string SafeVersion(string slot)
    {
        try
        {
            return store.Manifest(slot)?.Version ?? "?";
        }
        catch (ImageException)
        {
            return "?";
        }
    }

    /// <summary>SIGTERM first (the firmware stops its workers and flushes), SIGKILL after 10 s.</summary>
    private static void Stop(Process child)
    {
        if (child.HasExited)
        {
            return;
        }

        Signal(child, Sigterm);
        if (!child.WaitForExit(10_000))
        {
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
        }
    }

    private static void Signal(Process? child, int signal)
    {
        try
        {
            if (child is not null && !child.HasExited && OperatingSystem.IsLinux())
            {
                _ = Kill(child.Id, signal);
            }
        }
        catch (InvalidOperationException)
        {
            // it exited between the check and the signal
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
