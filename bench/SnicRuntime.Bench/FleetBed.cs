using System.Collections.Concurrent;
using System.Diagnostics;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.TestKit;
using SnicRuntime.TestKit.Store;

namespace SnicRuntime.Bench;

/// <summary>The fleet benchmark's bed: etcd, controllers as processes, light cards, the plan and its changes.</summary>
internal sealed class FleetBed(string dir, int cardCount) : IAsyncDisposable
{
    private const int Controllers = 3;
    private readonly EtcdCluster _etcd = new(3);
    private readonly FleetCards _cards = new(dir, cardCount);
    private readonly Dictionary<string, Process> _controllers = [];
    private readonly ManagementStore _inventory = new(Path.Combine(dir, "state.db"));
    private IStateStore _store = null!;
    private DesiredPlan? _desired;
    private string _storeAddress = "";
    private ChangePlan _plan = null!;
    private readonly long[] _installsAtStart = new long[cardCount];
    private long _expectedInstalls;
    private readonly ConcurrentQueue<(IReadOnlyDictionary<string, double> Fields, IReadOnlyList<string> Cards)> _rounds = new(); // from the controllers' logs
    private readonly List<ChangePhases> _phases = [];

    public int Lost { get; private set; }

    private int Sets => cardCount / 2;

    public async Task Start()
    {
        _storeAddress = $"etcd://{_etcd.Endpoints}/fleet";
        _store = StateStores.Open(StoreAddress.Parse(_storeAddress));
        await _cards.WaitAllAnswer(TimeSpan.FromSeconds(60));
        for (int i = 0; i < cardCount; i++)
        {
            _inventory.AddCard(new Card($"card{i}", _cards.Addresses[i], FleetCards.Token, "emulated", "standalone", DateTimeOffset.UtcNow));
        }

        _plan = PlanJson.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "examples", "plans", "demo.json")), out _)!;
        EniSpec template = _plan.Enis![0];
        _plan.Enis = [.. Enumerable.Range(0, cardCount).Select(i => new EniSpec
        {
            Name = $"eni{i}", Mac = $"00:cc:{i >> 16:x2}:{(i >> 8) & 255:x2}:{i & 255:x2}:01", Vnet = template.Vnet, AdminState = "up",
            VmVni = template.VmVni, VmUnderlayIp = $"172.16.{1 + i / 250}.{1 + i % 250}", RouteTable = template.RouteTable,
            Acl = template.Acl, InboundRoutes = template.InboundRoutes,
        })];
        // Each ENI's own VM has a mapping (mapping MAC = ENI MAC), as the card's traffic maker needs;
        // the remote VMs' mappings stay as the demo plan has them.
        var eniMacs = new HashSet<string>(template.Mac is null ? [] : [template.Mac], StringComparer.OrdinalIgnoreCase);
        eniMacs.UnionWith(PlanJson.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "examples", "plans", "demo.json")), out _)!.Enis!.Select(e => e.Mac!));
        _plan.Mappings = [.. _plan.Mappings!.Where(m => m.Mac is null || !eniMacs.Contains(m.Mac)),
            .. _plan.Enis.Select((e, i) => new MappingSpec { Vnet = e.Vnet, Ip = $"10.1.{i / 250}.{1 + i % 250}", UnderlayIp = e.VmUnderlayIp, Mac = e.Mac })];
        await Place(_store);
        await StartControllers();
    }

    private async Task Place(IStateStore store)
    {
        var placement = new Placement(store);
        for (int s = 0; s < Sets; s++)
        {
            await placement.CreateSet($"s{s}", [$"card{2 * s}", $"card{2 * s + 1}"]);
            await placement.Place($"eni{2 * s}", $"s{s}", false, _ => true);
            await placement.Place($"eni{2 * s + 1}", $"s{s}", false, _ => true);
        }
    }

    private async Task StartControllers(int count = Controllers)
    {
        for (int i = 0; i < count; i++)
        {
            StartController($"ctl-{i}");
        }

        var timer = Stopwatch.StartNew();
        while ((await ControllerElection.Members(_store)).Count < count)
        {
            if (timer.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException("the controllers did not all start in 60 s");
            }

            await Task.Delay(50);
        }
    }

    private void StartController(string id)
    {
        string snicctl = Path.Combine(TestPaths.RepoRoot, "host", "snicctl", "bin", "Release", "net9.0", "snicctl.dll");
        var start = new ProcessStartInfo("dotnet", $"{snicctl} serve --listen 127.0.0.1:0 --interval-ms 5000 --controller-id {id} --store {_storeAddress} --state {dir}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process p = Process.Start(start)!;
        // The delivery rounds it logs, to break each change's time into phases.
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null && RoundTrace.Parse(e.Data) is { } round)
            {
                _rounds.Enqueue(round);
            }
        };
        // Each controller's log beside the bed (kept with SNIC_FLEET_LOGS=DIR), for when a case fails.
        string? logs = Environment.GetEnvironmentVariable("SNIC_FLEET_LOGS");
        if (logs is not null)
        {
            Directory.CreateDirectory(logs);
            var log = new StreamWriter(Path.Combine(logs, id + ".log")) { AutoFlush = true };
            p.OutputDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
            p.ErrorDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
        }

        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _controllers[id] = p;
    }

    /// <summary>Publishes the whole plan to a fleet that has nothing: ms until every card runs its share.</summary>
    public async Task<double> Snapshot()
    {
        var timer = Stopwatch.StartNew();
        await Publish();
        await UntilRunning(Enumerable.Range(0, cardCount), TimeSpan.FromSeconds(60));
        double ms = timer.Elapsed.TotalMilliseconds;
        await Settled();
        for (int i = 0; i < cardCount; i++)
        {
            _installsAtStart[i] = (await _cards.Plan(i))!.Value.Installs;
        }

        return ms;
    }

    /// <summary>
    /// Change one ENI (its admin state flips) and time until both cards of its set run their new
    /// share; with <paramref name="killLeader"/>, SIGKILL the leading controller right after the
    /// change is in the store (and start a replacement afterwards).
    /// </summary>
    public async Task<double> Change(int n, bool killLeader, bool killEtcdLeader = false)
    {
        int etcdLeader = killEtcdLeader ? _etcd.Leader() : -1;
        int eni = n * 7 % cardCount; // spread over the sets
        EniSpec spec = _plan.Enis![eni];
        spec.AdminState = spec.AdminState == "up" ? "down" : "up";
        int set = eni / 2;
        var timer = Stopwatch.StartNew();
        long publishing = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Publish();
        double published = timer.Elapsed.TotalMilliseconds;
        if (killLeader && await ControllerElection.Leader(_store) is ControllerRecord leader && _controllers.TryGetValue(leader.Id, out Process? p))
        {
            p.Kill();
            p.WaitForExit();
            _controllers.Remove(leader.Id);
        }

        if (etcdLeader >= 0)
        {
            _etcd.Kill(etcdLeader); // SIGKILL the member that leads the Raft group, mid-change
        }

        _expectedInstalls += 2;
        bool delivered = await UntilRunning([2 * set, 2 * set + 1], TimeSpan.FromSeconds(10));
        double ms = timer.Elapsed.TotalMilliseconds;
        if (!delivered)
        {
            Lost++;
        }

        // The round that delivered it: the first after the publish that sent to the set's cards. Its
        // log line comes after the cards took the share (the outcome is recorded first), so wait a little.
        IReadOnlyDictionary<string, double>? round = null;
        string[] changed = [$"card{2 * set}", $"card{2 * set + 1}"];
        for (var waited = Stopwatch.StartNew(); round is null && delivered && waited.Elapsed < TimeSpan.FromSeconds(3); await Task.Delay(5))
        {
            round = _rounds.Where(r => r.Fields["started"] >= publishing && changed.All(r.Cards.Contains)).OrderBy(r => r.Fields["started"]).Select(r => r.Fields).FirstOrDefault();
        }

        _phases.Add(new ChangePhases(ms, publishing, published, round));

        if (killLeader)
        {
            StartController($"ctl-r{n}");
        }

        if (etcdLeader >= 0)
        {
            _etcd.Restart(etcdLeader);
            _etcd.WaitHealthy(3, TimeSpan.FromSeconds(30));
        }

        return ms;
    }

    /// <summary>
    /// Where the slowest change of a case spent its time, and each phase's median over the case's
    /// changes; then starts the next case afresh.
    /// </summary>
    public string PhaseLines(string label)
    {
        string line = ChangePhases.Lines(label, _phases);
        _phases.Clear();
        _rounds.Clear();
        return line;
    }

    /// <summary>Installs beyond one per change per card that needed it, counted by the cards.</summary>
    public async Task<long> Doubled()
    {
        long installs = 0;
        for (int i = 0; i < cardCount; i++)
        {
            installs += (await _cards.Plan(i))!.Value.Installs - _installsAtStart[i];
        }

        return Math.Max(0, installs - _expectedInstalls);
    }

    /// <summary>Moves the fleet onto the embedded store with one controller: same cards, same plan.</summary>
    public async Task UseSqlite()
    {
        foreach (Process p in _controllers.Values)
        {
            p.Kill();
            p.WaitForExit();
        }

        _controllers.Clear();
        await _store.DisposeAsync();
        _storeAddress = Path.Combine(dir, "fleet-sqlite.db");
        _store = StateStores.Open(StoreAddress.Parse(_storeAddress));
        _desired = null;
        await Place(_store);
        await Publish();
        await StartControllers(1);
        await UntilRunning(Enumerable.Range(0, cardCount), TimeSpan.FromSeconds(60));
        await Settled();
        for (int i = 0; i < cardCount; i++)
        {
            _installsAtStart[i] = (await _cards.Plan(i))!.Value.Installs;
        }

        _expectedInstalls = 0;
    }

    private async Task Publish()
    {
        _plan.Generation = null;
        _desired ??= new DesiredPlan(_store); // one publisher per store: it diffs against what it published last
        await _desired.Publish(_plan);
    }

    /// <summary>
    /// Waits until the leader has recorded every card in sync: the round that brought the fleet up
    /// is over, so the changes that follow each start on a quiet fleet (the cards run their shares
    /// a little before the records say so).
    /// </summary>
    private async Task Settled()
    {
        await using var delivery = new FleetDelivery(_store, _inventory);
        for (var timer = Stopwatch.StartNew(); timer.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(20))
        {
            if ((await delivery.Status()).All(s => s.InSync))
            {
                return;
            }
        }

        throw new TimeoutException("the leader did not record every card in sync within 30 s");
    }

    /// <summary>Waits until each card runs the share the current plan gives its set (by digest).</summary>
    private async Task<bool> UntilRunning(IEnumerable<int> which, TimeSpan wait)
    {
        // The desired plan as the store gives it back (objects in key order), which is what shares are cut from.
        PlanSlice stored = PlanSlice.Index(PlanObjects.Assemble(PlanObjects.Split(_plan), null));
        var expected = new ConcurrentDictionary<int, string>();
        foreach (int card in which)
        {
            int set = card / 2;
            expected[card] = PlanDigest.Of(stored.Share(new HashSet<string> { $"eni{2 * set}", $"eni{2 * set + 1}" }));
        }

        var timer = Stopwatch.StartNew();
        while (!expected.IsEmpty)
        {
            await Parallel.ForEachAsync(expected.Keys.ToList(), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (card, _) =>
            {
                if ((await _cards.Plan(card))?.Digest == expected[card])
                {
                    expected.TryRemove(card, out string? _);
                }
            });
            if (timer.Elapsed > wait)
            {
                return false;
            }

            if (!expected.IsEmpty)
            {
                await Task.Delay(5);
            }
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (Process p in _controllers.Values.Where(p => !p.HasExited))
        {
            p.Kill();
            p.WaitForExit();
        }

        await _cards.DisposeAsync();
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }

        _inventory.Dispose();
        _etcd.Dispose();
    }
}
