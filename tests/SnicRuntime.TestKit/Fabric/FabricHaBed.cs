using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using SnicRuntime.Contracts.Fabric;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Fabric;
using FabricSwitch = SnicRuntime.Management.Fabric.Fabric;

namespace SnicRuntime.TestKit.Fabric;

/// <summary>How a <see cref="FabricHaBed"/> is built.</summary>
public sealed record FabricHaBedOptions
{
    /// <summary>The published NativeAOT firmware (fast start, as on a card) instead of the JIT build.</summary>
    public bool PublishedFirmware { get; init; }

    public FabricOptions Traffic { get; init; } = new();

    /// <summary>HA scopes as snicctl ha pair takes them (NAME=ENI,...[@CARD]).</summary>
    public IReadOnlyList<string> Scopes { get; init; } = ["vms=eni1,eni2", "web=eni3,eni4@card-b"];

    /// <summary>
    /// The witness's controller lease. The witness works only while its controller can vouch for
    /// its lease; on two loaded cores a 1 s lease paused it for long enough (seen: > 500 ms) that a
    /// survivor lost its witness and rightly fenced itself. Longer here; the fleet bench measures
    /// controller failover with the default.
    /// </summary>
    public int ControllerLeaseMs { get; init; } = 3000;

    /// <summary>snicctl serve processes sharing the store: one leads and witnesses, the others take over when it dies.</summary>
    public int Controllers { get; init; } = 1;

    /// <summary>Where card, snicctl and witness output goes (null: kept in memory only).</summary>
    public string? LogDirectory { get; init; }
}

/// <summary>
/// An HA pair of real card processes behind the fabric: two snic-firmware processes on the
/// fabric-card board (their port a shared-memory wire to the fabric in this process),
/// enrolled and paired by snicctl, watched by <c>snicctl serve</c> as the witness. Cards die by
/// SIGKILL and restart with their state directories; the fabric's census judges.
/// </summary>
public sealed class FabricHaBed : IDisposable
{
    public const string Token = "fabric-ha-bed-token-0123456789";
    private static readonly string[] s_names = ["card-a", "card-b"];
    private static readonly uint[] s_underlays = [0xAC100901, 0xAC100902]; // 172.16.9.1, .2
    private readonly FabricHaBedOptions _options;
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-fabric-ha-").FullName;
    private readonly Process?[] _cards = new Process?[2];
    private readonly int[] _agentPorts;
    private readonly List<Process> _controllers = [];
    private readonly string _plan = Path.Combine(TestPaths.RepoRoot, "examples", "plans", "demo.json");

    private FabricHaBed(FabricHaBedOptions options)
    {
        _options = options;
        _agentPorts = LoopbackPorts.Free(2);
        ChangePlan plan = PlanJson.Parse(File.ReadAllText(_plan), out PlanError? error) ?? throw new InvalidOperationException($"{_plan}: {error}");
        IReadOnlyList<FabricEni> enis = FabricEndpoints.From(plan, out string why);
        if (enis.Count == 0)
        {
            throw new InvalidOperationException(why);
        }

        Enis = enis;
        string tag = $"{Environment.ProcessId}-{Path.GetFileName(_dir)}";
        var cards = s_names.Select((n, i) => new FabricCard(n, $"/dev/shm/snic-{tag}-{n}.link", s_underlays[i])).ToList();
        Fabric = new FabricSwitch(cards, enis, options.Traffic);
        File.WriteAllText(Path.Combine(_dir, "token"), Token);
        string board = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "boards", "emulated", "fabric-card.json"));
        for (int i = 0; i < 2; i++)
        {
            JsonNode b = JsonNode.Parse(board)!;
            b["hal"]!["args"]!["links"] = cards[i].LinkPath;
            File.WriteAllText(BoardOf(i), b.ToJsonString());
        }
    }

    public FabricSwitch Fabric { get; }

    public IReadOnlyList<FabricEni> Enis { get; }

    /// <summary>The relay on the cards' replication link (cut it for a partition).</summary>
    public SyncRelay? Relay { get; private set; }

    /// <summary>Every line the processes wrote, prefixed with who wrote it.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    private string BoardOf(int card) => Path.Combine(_dir, $"{s_names[card]}.board.json");

    public static FabricHaBed Start(FabricHaBedOptions? options = null)
    {
        var bed = new FabricHaBed(options ?? new FabricHaBedOptions());
        try
        {
            bed.Fabric.Start();
            bed.StartCard(0);
            bed.StartCard(1);
            for (int i = 0; i < 2; i++)
            {
                int card = i;
                bed.Until(() => bed.Snicctl("cards", "add", s_names[card], "--address", $"http://127.0.0.1:{bed._agentPorts[card]}/", "--token-file", Path.Combine(bed._dir, "token")).Code == 0,
                    TimeSpan.FromSeconds(60), $"{s_names[card]} enrolled");
            }

            int[] sync = LoopbackPorts.Free(2);
            var pair = new List<string> { "ha", "pair", "card-a", "card-b", "--sync-a", $"127.0.0.1:{sync[0]}", "--sync-b", $"127.0.0.1:{sync[1]}",
                "--underlay-a", "172.16.9.1", "--underlay-b", "172.16.9.2" };
            // The replication link runs through a relay the bed can cut.
            bed.Relay = new SyncRelay(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, sync[0]), new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, sync[1]));
            pair.AddRange(["--sync-a-via", bed.Relay.ReachA.ToString(), "--sync-b-via", bed.Relay.ReachB.ToString()]);
            foreach (string s in bed._options.Scopes)
            {
                pair.Add("--scope");
                pair.Add(s);
            }

            // `cards add` only records a card; pairing needs its agent up (exit 4: unreachable, retried).
            (int Code, string Out, string Err) result = (-1, "", "");
            bed.Until(() => (result = bed.Snicctl([.. pair])).Code != 4, TimeSpan.FromSeconds(60), "the agents answer the pairing");
            (int code, string output, string err) = result;
            if (code != 0)
            {
                throw new InvalidOperationException($"snicctl ha pair failed ({code}): {output}{err}");
            }

            for (int c = 0; c < bed._options.Controllers; c++)
            {
                bed._controllers.Add(bed.StartProcess($"serve{c}", SnicctlStart(bed.StateArgs("serve", "--listen", "127.0.0.1:0", "--seconds", "3600",
                    "--controller-id", $"controller-{c}", "--lease-ms", bed._options.ControllerLeaseMs.ToString(System.Globalization.CultureInfo.InvariantCulture)))));
            }

            // The witness visits the cards only while its controller leads: a kill before that would
            // leave the survivor alone without a witness, and it rightly fences itself.
            bed.Until(() => bed.Leader() >= 0,
                TimeSpan.FromSeconds(60), "snicctl serve leads (the witness runs)");
            bed.Until(bed.Synced, TimeSpan.FromSeconds(60), "every scope active on one card and standby on the other, every ENI steered");
            // The witness's first rounds open its TLS sessions and compile its code (measured: the
            // first round after leading took 270-430 ms); a kill before then times start-up.
            Thread.Sleep(1500);
            return bed;
        }
        catch
        {
            bed.Dispose();
            throw;
        }
    }

    /// <summary>The card deciding <paramref name="eni"/>'s scope as the fabric steers (-1: none).</summary>
    public int ActiveOf(string eni) => Fabric.Read(f => f.Steering.CardOf(Enis.Select((e, i) => (e, i)).First(x => x.e.Name == eni).i));

    /// <summary>The state card <paramref name="card"/> last announced for the scope holding <paramref name="eni"/>.</summary>
    public string? StateOf(int card, string eni) => Fabric.Read(f => f.Steering.Statuses[card]?.Scopes.FirstOrDefault(s => s.Enis.Contains(eni))?.State);

    public CardStatus? StatusOf(int card) => Fabric.Read(f => f.Steering.Statuses[card]);

    /// <summary>Every scope Active on one card and Standby on the other, and every ENI steered to its active.</summary>
    public bool Synced() => Enis.All(e =>
    {
        int a = ActiveOf(e.Name);
        return a >= 0 && StateOf(a, e.Name) == "Active" && StateOf(1 - a, e.Name) == "Standby";
    });

    /// <summary>What each card last announced and where each ENI is steered, for messages.</summary>
    public string Describe() => string.Join("; ", Enumerable.Range(0, 2).Select(c =>
        $"{s_names[c]}: " + (StatusOf(c) is CardStatus s ? $"gen {s.Generation} peer {(s.PeerUp ? "up" : "lost")} " + string.Join(" ", s.Scopes.Select(x => $"{x.Name}={x.State}@{x.Term}")) : "nothing")))
        + "; steered " + string.Join(" ", Enis.Select(e => $"{e.Name}->{ActiveOf(e.Name)}"))
        + "; moves " + Fabric.Read(f => string.Join(" ", f.Steering.Moves.Select(m => $"{Ms(m.At)}ms:{m.Eni}:{m.From}->{m.To}@{m.Term}")))
        + "; broken " + Fabric.Read(f => string.Join(" ", f.Breaks.Take(10).Select(b => $"{Ms(b.StepSentAt)}ms:{Enis[b.Eni].Name}#{b.Id}@step{b.Step}")))
        + "; events " + string.Join(" ", _events.Select(e => $"{Ms(e.At)}ms:{e.What}"))
        + "; announcements " + Fabric.Read(f => string.Join(" | ", f.Announcements.TakeLast(30).Select(a => $"{Ms(a.At)}ms {s_names[a.Card]}: {a.Said}")));

    private readonly List<(long At, string What)> _events = [];

    private readonly long _started = Stopwatch.GetTimestamp();

    private long Ms(long at) => (at - _started) * 1000 / Stopwatch.Frequency;

    /// <summary>Notes an event (a kill, a restart, a command) with its time, for <see cref="Describe"/>.</summary>
    public void Note(string what)
    {
        lock (_events)
        {
            _events.Add((Stopwatch.GetTimestamp(), what));
        }
    }

    /// <summary>The controller that leads now, by its log (-1: none, or the leader died).</summary>
    public int Leader()
    {
        int leader = Volatile.Read(ref _leader);
        return leader >= 0 && !_controllers[leader].HasExited ? leader : -1;
    }

    private int _leader = -1;

    // A controller's "leads" line makes it the leader; its own "no longer leads" or "pauses" line ends that.
    private void NoteLeadership(string name, string line)
    {
        if (!name.StartsWith("serve", StringComparison.Ordinal) || !int.TryParse(name.AsSpan(5), out int c))
        {
            return;
        }

        if (line.Contains(" leads (fence", StringComparison.Ordinal) || line.Contains(" leads again", StringComparison.Ordinal))
        {
            Volatile.Write(ref _leader, c);
            Note($"serve{c} leads");
        }
        else if ((line.Contains(" no longer leads", StringComparison.Ordinal) || line.Contains(" pauses", StringComparison.Ordinal)) && Volatile.Read(ref _leader) == c)
        {
            Volatile.Write(ref _leader, -1);
            Note($"serve{c} stops leading");
        }
    }

    /// <summary>SIGKILLs controller <paramref name="controller"/> (a snicctl serve process).</summary>
    public void KillController(int controller)
    {
        Note($"kill serve{controller}");
        _controllers[controller].Kill();
        _controllers[controller].WaitForExit();
    }

    public void Kill(int card)
    {
        Note($"kill {s_names[card]}");
        _cards[card]!.Kill(); // SIGKILL
        _cards[card]!.WaitForExit();
    }

    public void StartCard(int card)
    {
        string firmware = _options.PublishedFirmware
            ? Path.Combine(TestPaths.RepoRoot, "out", "firmware", "linux-x64", "snic-firmware")
            : Path.Combine(TestPaths.RepoRoot, "firmware", "bin", "Release", "net9.0", "snic-firmware.dll");
        if (!File.Exists(firmware))
        {
            throw new FileNotFoundException(_options.PublishedFirmware ? $"{firmware} is not published (./firmware/publish.sh linux-x64)" : $"{firmware} is not built");
        }

        var args = new List<string> { "--board", BoardOf(card), "--plan", _plan, "--agent", _agentPorts[card].ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--agent-token-file", Path.Combine(_dir, "token"), "--ha-state", Path.Combine(_dir, s_names[card]), "--seconds", "3600", "--workers", "1", "--idle-sleep-ms", "1" };
        var psi = _options.PublishedFirmware ? new ProcessStartInfo(firmware) : new ProcessStartInfo("dotnet") { ArgumentList = { firmware } };
        args.ForEach(psi.ArgumentList.Add);
        Note($"start {s_names[card]}");
        _cards[card] = StartProcess(s_names[card], psi);
    }

    public (int Code, string Out, string Err) Snicctl(params string[] args)
    {
        using Process p = Process.Start(SnicctlStart(StateArgs(args)))!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(90_000))
        {
            p.Kill();
            return (-1, output, "snicctl did not finish in 90 s");
        }

        return (p.ExitCode, output, err.GetAwaiter().GetResult());
    }

    private string[] StateArgs(params string[] args) => [.. args, "--state", Path.Combine(_dir, "state")];

    private static ProcessStartInfo SnicctlStart(string[] args)
    {
        string dll = Path.Combine(TestPaths.RepoRoot, "host", "snicctl", "bin", "Release", "net9.0", "snicctl.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        psi.ArgumentList.Add(dll);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    private Process StartProcess(string name, ProcessStartInfo psi)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = TestPaths.RepoRoot;
        Process p = Process.Start(psi)!;
        StreamWriter? file = _options.LogDirectory is string d ? new StreamWriter(Path.Combine(Directory.CreateDirectory(d).FullName, $"{name}.log"), append: true) { AutoFlush = true } : null;
        void Line(string? l)
        {
            if (l is null)
            {
                return;
            }

            Log.Enqueue($"{name}: {l}");
            NoteLeadership(name, l);
            while (Log.Count > 2000 && Log.TryDequeue(out _))
            {
            }

            if (file is not null)
            {
                lock (file)
                {
                    file.WriteLine(l);
                }
            }
        }

        p.OutputDataReceived += (_, e) => Line(e.Data);
        p.ErrorDataReceived += (_, e) => Line(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>Waits for <paramref name="done"/>; throws with the recent log when it does not come.</summary>
    public void Until(Func<bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{what}: not within {timeout.TotalSeconds} s; {Describe()}; last lines:\n{string.Join('\n', Log.TakeLast(40))}");
            }

            Thread.Sleep(20);
        }
    }

    public void Dispose()
    {
        foreach (Process p in _cards.Concat(_controllers).OfType<Process>().Where(p => !p.HasExited))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10_000);
        }

        Fabric.Dispose();
        Relay?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
