using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Ha.Channel;
using System.Net;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;

namespace SnicRuntime.Firmware.Ha;

/// <summary>
/// HA in the firmware process: pairs and unpairs the card on the management plane's word (through
/// the card agent), keeps the pairing and the terms in the card's state directory so a restarted
/// card rejoins by itself, and owns the running <see cref="HaNode"/> and its UDP link.
/// </summary>
public sealed class HaHost : IDisposable
{
    private readonly Dataplane _dataplane;
    private readonly PolicyStore _policy;
    private readonly string? _stateDir;
    private readonly Lock _gate = new();
    private HaAttachment? _attachment;
    private HaNode? _node;
    private HaPairing? _pairing;

    public HaHost(Dataplane dataplane, PolicyStore policy, string? stateDir)
    {
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        _policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _stateDir = stateDir;
    }

    public HaNode? Node => _node;

    public HaPairing? Pairing => _pairing;

    private string? PairingFile => _stateDir is null ? null : Path.Combine(_stateDir, "ha-pairing.json");

    private string? TermFile => _stateDir is null ? null : Path.Combine(_stateDir, "ha-terms.json");

    /// <summary>Rejoins the pairing saved in the state directory, if any. Returns what happened, for the log.</summary>
    public string? Restore()
    {
        if (PairingFile is not string file || !File.Exists(file))
        {
            return null;
        }

        HaPairing? saved = HaPairing.Parse(File.ReadAllBytes(file), out string? why);
        if (saved is null)
        {
            return $"saved pairing {file} is unreadable ({why}); not paired";
        }

        IReadOnlyList<(string Path, string Reason)> errors = Pair(saved, persist: false);
        return errors.Count == 0 ? $"rejoined HA pairing with card {saved.PeerId} ({saved.Scopes.Count} scope(s))" : $"saved pairing refused: {errors[0].Path}: {errors[0].Reason}";
    }

    /// <summary>Pairs the card. Re-sending the same pairing is harmless; a different one while paired is refused (unpair first).</summary>
    public IReadOnlyList<(string Path, string Reason)> Pair(HaPairing pairing, bool persist = true)
    {
        ArgumentNullException.ThrowIfNull(pairing);
        List<(string Path, string Reason)> errors = pairing.Validate();
        if (errors.Count != 0)
        {
            return errors;
        }

        if (_dataplane.Pipelines.Count == 0)
        {
            return [("$", "this card runs no policy pipeline (start it with a plan or a managed agent)")];
        }

        lock (_gate)
        {
            if (_pairing is not null)
            {
                return _pairing.ToJson().AsSpan().SequenceEqual(pairing.ToJson()) ? [] : [("$", $"already paired with card {_pairing.PeerId}; unpair first")];
            }

            UdpLink link;
            try
            {
                link = new UdpLink(IPEndPoint.Parse(pairing.SyncLocal), IPEndPoint.Parse(pairing.SyncPeer));
            }
            catch (System.Net.Sockets.SocketException e)
            {
                return [("$.sync_local", $"cannot bind {pairing.SyncLocal}: {e.Message}")];
            }

            if (persist && PairingFile is string file)
            {
                Directory.CreateDirectory(_stateDir!);
                File.WriteAllBytes(file + ".tmp", pairing.ToJson());
                File.Move(file + ".tmp", file, overwrite: true);
            }

            _attachment ??= HaNode.Attach(_dataplane.Pipelines);
            _node = new HaNode(pairing.ToConfig(TermFile), link, _policy, _dataplane.Pipelines, _dataplane.WorkerOfFlowHash, _attachment);
            _node.Start(_dataplane.Workers.Count > 0 ? _dataplane.Workers[0].IdleSleepMs : 0);
            _pairing = pairing;
            return [];
        }
    }

    /// <summary>Dissolves the pairing (the scopes go alone) and forgets it. False when not paired.</summary>
    public bool Unpair()
    {
        lock (_gate)
        {
            if (_node is null)
            {
                return false;
            }

            _node.Unpair();
            _node.Dispose();
            _node = null;
            _pairing = null;
            if (PairingFile is string file)
            {
                File.Delete(file);
            }

            return true;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _node?.Dispose();
            _node = null;
        }
    }
}
