using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.Firmware.Ha.Sync;
using SnicRuntime.Firmware.Plans;
using System.Buffers.Binary;
using System.Diagnostics;
using SnicRuntime.Firmware.Pipeline;

namespace SnicRuntime.Firmware.Ha;

/// <summary>
/// A card's HA node: the state machine of each scope, the replication channel and flow sync, the
/// BFD-like liveness probe, and the per-ENI modes the workers read. Driven by <see cref="Poll"/>
/// with a millisecond clock — on its own thread in the firmware (<see cref="Start"/>), step by
/// step in tests.
/// </summary>
public sealed partial class HaNode : IDisposable
{
    private readonly HaConfig _config;
    private readonly PolicyStore _policy;
    private readonly HaStateMachine[] _scopes;
    private readonly uint[] _scopeIds;
    private readonly List<PolicyPipeline> _pipelines;
    private readonly byte[] _probe;
    private readonly Lock _gate = new(); // management commands vs the sync thread
    private long _lastProbeMs = long.MinValue / 2; // "long ago", without overflowing the subtraction
    private bool _peerUp;
    private long[]? _drainMarks;
    private bool _bulkComplete;
    private ulong _bulkPeerEpoch;
    private long _bulkRequestedMs;
    private long _witnessHeardAt = -1;
    private bool _witnessUp = true;
    private long _publishedFor = -1;
    private Thread? _thread;
    private volatile bool _stop;

    /// <param name="attachment">Worker links made earlier (<see cref="Attach"/>): a card that pairs, unpairs and pairs again keeps them.</param>
    public HaNode(HaConfig config, IDatagramLink link, PolicyStore policy, IReadOnlyList<PolicyPipeline> pipelines, Func<uint, int> workerOfHash,
        HaAttachment? attachment = null)
    {
        _config = config ?? throw new ArgumentNullException(nameof(config));
        _policy = policy ?? throw new ArgumentNullException(nameof(policy));
        ArgumentNullException.ThrowIfNull(pipelines);
        if (config.ProbeIntervalMs < 1 || config.ProbeMultiplier < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(config), "probe interval must be ≥ 1 ms and the multiplier ≥ 2");
        }

        _pipelines = [.. pipelines];
        attachment ??= Attach(_pipelines);
        Modes = attachment.Modes;
        Modes.LocalUnderlay = config.LocalUnderlay;
        Modes.PeerUnderlay = config.PeerUnderlay;
        WorkerSync[] workers = [.. attachment.Workers];

        Channel = new HaChannel(link, config.PairingKey, config.CardId, config.PeerId, config.Channel);
        Sync = new FlowSync(Channel, workers, workerOfHash, config.Channel.Window);
        Sync.BulkReceived += OnBulkReceived;
        Sync.PeerRestarted += OnPeerRestarted;
        Sync.ProbeReceived += OnProbe;
        HaTermStore? terms = config.TermFile is null ? null : new HaTermStore(config.TermFile);
        _scopes = [.. config.Scopes.Select(s => new HaStateMachine(s.Name, config.CardId, config.PeerId, terms))];
        _scopeIds = new uint[config.Scopes.Count];
        for (int i = 0; i < _scopeIds.Length; i++)
        {
            _scopeIds[i] = ScopeId(config.Scopes[i].Name);
        }

        _probe = new byte[1 + (_scopes.Length * 13)];
        Workers = workers;
        foreach ((HaStateMachine m, HaScopeConfig s) in _scopes.Zip(config.Scopes))
        {
            // A card that rejoins from its saved pairing may hold a newer term than the pairing
            // gave (it took the scope over since, or stepped down under a newer one): it rejoins
            // under the term it holds, and the probes sort out who leads. Configuring with the
            // pairing's term would be refused as stale and leave the scope Dead on this card
            // (found by the fabric's kill-active run: the second restart never came back).
            Raise(m, new HaEvent(HaEventKind.Configure, Math.Max(s.Term, m.Term), s.Role), 0);
        }
    }

    public HaChannel Channel { get; }

    public FlowSync Sync { get; }

    public HaModeMap Modes { get; }

    public IReadOnlyList<WorkerSync> Workers { get; }

    public IReadOnlyList<HaStateMachine> Scopes => _scopes;

    /// <summary>Every transition, with the node's clock: what tests and benchmarks time.</summary>
    public List<(long AtMs, string Scope, HaTransition Transition)> History { get; } = [];

    /// <summary>Raised after each transition (on the node's thread).</summary>
    public event Action<string, HaTransition>? Transitioned;

    /// <summary>The clock of the last <see cref="Poll"/>.</summary>
    public long NowMs { get; private set; }

    /// <summary>This card's HA identity.</summary>
    public uint CardId => _config.CardId;

    /// <summary>The ENIs (plan names) of <paramref name="scope"/>, as paired.</summary>
    public IReadOnlyList<string> EnisOf(string scope) => _config.Scopes.FirstOrDefault(s => s.Name == scope)?.Enis ?? [];

    /// <summary>Whether the peer's probes arrive.</summary>
    public bool PeerUp => _peerUp;

    /// <summary>When (<see cref="Stopwatch"/> timestamp) the peer was last declared lost.</summary>
    public long PeerLostTimestamp { get; private set; }

    /// <summary>One round: sync, probes, liveness, publish modes. Returns frames sent.</summary>
    public int Poll(long nowMs)
    {
        lock (_gate)
        {
            NowMs = nowMs;
            int sent = Sync.Poll(nowMs);
            if (nowMs - _lastProbeMs >= _config.ProbeIntervalMs)
            {
                _lastProbeMs = nowMs;
                Channel.SendProbe(ProbePayload());
            }

            // Liveness is the peer's probes: each carries its scopes' states and terms, so by the
            // time the peer counts as up, this side knows where it stands.
            long heard = Channel.LastProbeMs;
            bool up = heard >= 0 && nowMs - heard <= (long)_config.ProbeIntervalMs * _config.ProbeMultiplier;
            // Never heard after the detection time: the peer is not coming (yet).
            bool neverCame = heard < 0 && nowMs >= (long)_config.ProbeIntervalMs * _config.ProbeMultiplier;
            if (up != _peerUp || (neverCame && _scopes.Any(s => s.State == HaState.Connecting && s.PeerReachable is false && s.DesiredRole == HaRole.Active)))
            {
                _peerUp = up;
                if (!up)
                {
                    PeerLostTimestamp = Stopwatch.GetTimestamp();
                    _bulkComplete = false; // what the peer does from here on reaches us only by a new bulk
                }

                RaiseAll(new HaEvent(up ? HaEventKind.PeerUp : HaEventKind.PeerLost));
            }

            // The witness is tracked once it has shown up: a card nobody manages assumes it there.
            if (_witnessHeardAt >= 0 && _witnessUp && nowMs - _witnessHeardAt > _config.WitnessSilenceMs)
            {
                _witnessUp = false;
                RaiseAll(new HaEvent(HaEventKind.WitnessLost));
            }

            DrainCheck();
            PublishIfPolicyChanged();
            return sent;
        }
    }

    /// <summary>A management-plane command or witness verdict for one scope (switchover, takeover, unpair, witness up/lost).</summary>
    public HaTransition Command(string scope, HaEvent e)
    {
        lock (_gate)
        {
            HaStateMachine m = _scopes.FirstOrDefault(s => s.Scope == scope)
                ?? throw new ArgumentException($"no HA scope named '{scope}' on this card", nameof(scope));
            return Raise(m, e, NowMs);
        }
    }

    /// <summary>
    /// Runs <see cref="Poll"/> on a thread of its own until disposed. <paramref name="idleSleepMs"/>
    /// as the card's workers have it: many light cards on one host nap when idle instead of yielding
    /// (measured: two cards' yielding sync threads starved the witness on two cores, whose silence
    /// made a survivor fence itself).
    /// </summary>
    public void Start(int idleSleepMs = 0)
    {
        var clock = Stopwatch.StartNew();
        _thread = new Thread(() =>
        {
            while (!_stop)
            {
                int sent = Poll(clock.ElapsedMilliseconds);
                if (sent == 0)
                {
                    // Idle: a short nap keeps the two-core development machine usable; a card
                    // would give the sync thread its own core and spin.
                    Thread.Sleep(idleSleepMs);
                }
            }
        })
        { IsBackground = true, Name = "ha-sync" };
        _thread.Start();
    }

    private void RaiseAll(HaEvent e)
    {
        foreach (HaStateMachine m in _scopes)
        {
            Raise(m, e, NowMs);
        }
    }

    private HaTransition Raise(HaStateMachine m, HaEvent e, long nowMs)
    {
        HaTransition t = m.Apply(e);
        if (t.From != t.To || t.Refused)
        {
            History.Add((nowMs, m.Scope, t));
            Transitioned?.Invoke(m.Scope, t);
        }

        if (t.From != t.To)
        {
            if (t.To == HaState.InitializingToActive)
            {
                RequestBulk(); // the joining standby gets every flow, in order with inline changes
            }

            if (t.To == HaState.InitializingToStandby && _bulkComplete)
            {
                Raise(m, new HaEvent(HaEventKind.BulkSyncDone), nowMs);
            }

            if (t.To == HaState.Standalone)
            {
                Sync.Abandon(); // alone: held first packets must not wait for a peer that is gone
            }

            if (t.To == HaState.SwitchingToStandby)
            {
                _drainMarks = new long[Workers.Count];
                for (int w = 0; w < _drainMarks.Length; w++)
                {
                    _drainMarks[w] = Volatile.Read(ref Workers[w].Produced);
                }
            }

            Publish();
            if (ModeOf(t.From) != HaMode.Standby && ModeOf(t.To) == HaMode.Standby)
            {
                // This card stopped deciding the scope: what workers hold for it may never be
                // acknowledged. Asked after Publish, so a worker that sees the request sees the modes.
                foreach (WorkerSync w in Workers)
                {
                    w.FenceRequest = w.FenceRequest + 1;
                }
            }
        }

        return t;
    }

    // The active finished a bulk sync for this run of ours. It may arrive before this side has
    // noticed the peer (still Connecting): remember it for when it enters InitializingToStandby.
    private void OnBulkReceived(ulong forEpoch)
    {
        if (forEpoch != Channel.Epoch)
        {
            return; // completes an earlier run of ours, whose flows this run never received
        }

        _bulkComplete = true;
        RaiseAll(new HaEvent(HaEventKind.BulkSyncDone));
    }

    private void OnPeerRestarted()
    {
        _bulkComplete = false; // a new run of the peer starts a new bulk
        // The peer lost everything it held: if it was our standby, it must be bulk-synced again.
        RaiseAll(new HaEvent(HaEventKind.PeerLost));
        RaiseAll(new HaEvent(HaEventKind.PeerUp));
    }

    // The switching active may hand over once the peer holds every flow change made before the
    // switch began (new flows already go to the peer, so the mark is reached; later changes keep
    // streaming) and no packet waits for an acknowledgement.
    private void DrainCheck()
    {
        foreach (HaStateMachine m in _scopes)
        {
            if (m.State == HaState.SwitchingToStandby && _drainMarks is long[] marks && Drained(marks))
            {
                Raise(m, new HaEvent(HaEventKind.Drained), NowMs);
            }
        }
    }

    private bool Drained(long[] marks)
    {
        for (int w = 0; w < Workers.Count; w++)
        {
            if (Volatile.Read(ref Workers[w].Acked) < marks[w] || _pipelines[w].Hold!.Count != 0)
            {
                return false;
            }
        }

        return true;
    }

    private void RequestBulk()
    {
        Sync.RequestBulk();
        _bulkPeerEpoch = Channel.PeerEpoch;
        _bulkRequestedMs = NowMs;
    }

    private void PublishIfPolicyChanged()
    {
        long generation = _policy.Current?.Generation ?? 0;
        if (generation != _publishedFor)
        {
            Publish();
        }
    }

    /// <summary>Per-ENI modes from the scopes' states, by the running plan's ENI names.</summary>
    private void Publish()
    {
        PolicyTables? t = _policy.Current;
        _publishedFor = t?.Generation ?? 0;
        if (t is null)
        {
            return;
        }

        var modes = new HaMode[t.Enis.Length];
        for (int s = 0; s < _scopes.Length; s++)
        {
            HaMode mode = ModeOf(_scopes[s].State);
            foreach (string name in _config.Scopes[s].Enis)
            {
                Eni? eni = t.Enis.FirstOrDefault(e => e?.Name == name);
                if (eni is not null)
                {
                    modes[eni.Index] = mode;
                }
            }
        }

        Modes.Publish(modes);
    }

    /// <summary>Connects every worker's pipeline to HA (once per process; modes start <see cref="HaMode.Alone"/>).</summary>
    public static HaAttachment Attach(IReadOnlyList<PolicyPipeline> pipelines)
    {
        ArgumentNullException.ThrowIfNull(pipelines);
        var modes = new HaModeMap();
        var workers = new WorkerSync[pipelines.Count];
        for (int w = 0; w < workers.Length; w++)
        {
            workers[w] = new WorkerSync(w);
            pipelines[w].AttachHa(workers[w], modes);
        }

        return new HaAttachment(workers, modes);
    }

    /// <summary>
    /// Ends the pairing: every scope goes alone (Unpair), anything still held is let go, and the
    /// workers' unsent records are dropped (there is no peer to send them to).
    /// </summary>
    public void Unpair()
    {
        lock (_gate)
        {
            RaiseAll(new HaEvent(HaEventKind.Unpair));
            Modes.Publish([]);
            Sync.Abandon();
        }
    }

    public static HaMode ModeOf(HaState state) => state switch
    {
        HaState.Active or HaState.InitializingToActive => HaMode.Replicate,
        HaState.SwitchingToStandby => HaMode.Draining,
        HaState.Standby or HaState.InitializingToStandby or HaState.SwitchingToActive or HaState.Connecting => HaMode.Standby,
        _ => HaMode.Alone, // Standalone forwards alone; Dead: not paired for this scope
    };

    private static uint ScopeId(string name)
    {
        uint h = 2166136261;
        foreach (char c in name)
        {
            h = (h ^ c) * 16777619;
        }

        return h;
    }

    public void Dispose()
    {
        _stop = true;
        _thread?.Join();
        Channel.Dispose();
    }
}
