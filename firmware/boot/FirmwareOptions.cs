using System.CommandLine;
using System.Globalization;
using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Workers;

namespace SnicRuntime.Firmware.Boot;

/// <summary>Command-line options of snic-firmware. Parsing reports every bad argument by name.</summary>
public sealed class FirmwareOptions
{
    /// <summary>The options, their value names and what they do: the command's help is made from these.</summary>
    internal static readonly OptionSpec[] Specs =
    [
        new("--board", "FILE", "board file (default: boards/emulated/emulated.json, searched upward)"),
        new("--seconds", "N", "run the emulated-traffic demo for N seconds, then stop (default 5)"),
        new("--workers", "N", "worker count (default: the board's dataplane cores)"),
        new("--flows", "N", "concurrent generated flows (default 10000)"),
        new("--plan", "FILE", "apply this change plan and run the SDN policy pipeline on DASH traffic made from it (what ./run.sh does with examples/plans/demo.json)"),
        new("--agent", "PORT", "serve the card agent's management API on 127.0.0.1:PORT while running; without --plan the card waits for one from its management plane"),
        new("--plan-wait", "N", "with --agent and no --plan: seconds to wait for the first plan (default 60)"),
        new("--agent-tls", "DIR", "mutual TLS for the agent: DIR/card.pem (certificate and key issued at enrollment, `snicctl cards enroll`) and DIR/ca.pem (the issuing authority)"),
        new("--agent-token-file", "FILE", "instead of TLS: the token callers must present (Authorization: Bearer)"),
        new("--ha-state", "DIR", "HA: keep the pairing and terms here; the agent takes pairing commands (PUT /v1/ha) and a restarted card rejoins its pair by itself"),
        new("--stage", "KIND", "without --plan: flows (flow table, default) or forward (cross-connect)"),
        new("--flow-capacity", "N", "flows per worker and address family (default 65536)"),
        new("--rate", "PPS", "generated packets per second, 0 = unlimited (default 500000)"),
        new("--idle-sleep-ms", "N", "an idle worker sleeps N ms instead of spinning (0..100, default 0): many light cards on one host"),
        new("--config", "FILE", "options from a JSON object ({\"flow-capacity\": 65536, ...}); an image's config/default.json; options given on the command line win"),
        new("--agent-listen", "ADDR", "the agent's address (default 127.0.0.1; a card in a VM listens on its management interface)"),
        new("--image-trust", "FILE", "public keys (PEM) whose signed images this card installs (snicctl flash)"),
        new("--slots", "DIR", "the A/B firmware slots (set by `snic-firmware boot`, the boot supervisor)"),
        new("--boot-slot", "S", "set by the boot supervisor: the slot running"),
        new("--boot-health", "FILE", "set by the boot supervisor: where to report healthy"),
    ];

    /// <summary>The command line of snic-firmware: these options, and the boot and replay commands.</summary>
    internal static RootCommand Command()
    {
        var root = new RootCommand("snic-firmware: the card's dataplane. Loads the board, builds the dataplane and runs it (on the emulated board, against generated traffic, stopping by itself).");
        CommandLines.AddOptions(root, Specs);
        root.SetAction(_ => 0); // the card runs from Program.Main; the action only makes the subcommands optional
        root.Subcommands.Add(BootCommand.Command());
        root.Subcommands.Add(ReplayCommand.Command());
        return root;
    }

    public string? BoardPath { get; private set; }

    public double Seconds { get; private set; } = 5;

    public int? Workers { get; private set; }

    public int Flows { get; private set; } = 10_000;

    public long RatePps { get; private set; } = 500_000;

    public bool Help { get; private set; }

    public StageKind Stage { get; private set; } = StageKind.Flows;

    public int FlowCapacity { get; private set; } = 65_536;

    public int IdleSleepMs { get; private set; }

    /// <summary>Loopback port of the card agent (null: no agent).</summary>
    public int? AgentPort { get; private set; }

    public string? AgentTokenFile { get; private set; }

    public string? AgentTlsDirectory { get; private set; }

    /// <summary>How long a managed card waits for its first plan before giving up (seconds).</summary>
    public double PlanWaitSeconds { get; private set; } = 60;

    /// <summary>HA state directory (pairing, terms); null: this card does not do HA.</summary>
    public string? HaStateDirectory { get; private set; }

    public System.Net.IPAddress AgentListen { get; private set; } = System.Net.IPAddress.Loopback;

    public string? ImageTrustFile { get; private set; }

    public string? SlotsDirectory { get; private set; }

    public string? BootSlot { get; private set; }

    public string? BootHealthFile { get; private set; }

    /// <summary>Change plan to run the policy pipeline with (null: no policy stage).</summary>
    public string? PlanPath { get; private set; }

    public static FirmwareOptions Parse(IReadOnlyList<string> args, out List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(args);
        var o = new FirmwareOptions();
        errors = [];
        bool stageGiven = false;
        List<(string Name, string Value)> given = CommandLines.Parse(Command(), args, errors, out bool help);
        o.Help = help;
        foreach ((string a, string v) in given)
        {
            stageGiven |= a == "--stage";
            switch (a)
            {
                case "--board":
                    o.BoardPath = v;
                    break;
                case "--seconds":
                    if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) || s <= 0 || s > 86400)
                    {
                        errors.Add($"--seconds: '{v}' is not a number of seconds in (0, 86400]");
                    }
                    else
                    {
                        o.Seconds = s;
                    }

                    break;
                case "--workers":
                    if (!int.TryParse(v, CultureInfo.InvariantCulture, out int w) || w < 1)
                    {
                        errors.Add($"--workers: '{v}' is not a positive whole number");
                    }
                    else
                    {
                        o.Workers = w;
                    }

                    break;
                case "--flows":
                    if (!int.TryParse(v, CultureInfo.InvariantCulture, out int f) || f < 1 || f > 16_000_000)
                    {
                        errors.Add($"--flows: '{v}' is not a whole number in 1..16000000");
                    }
                    else
                    {
                        o.Flows = f;
                    }

                    break;
                case "--agent":
                    if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
                    {
                        errors.Add($"--agent: '{v}' is not a TCP port (0-65535)");
                    }
                    else
                    {
                        o.AgentPort = port;
                    }

                    break;
                case "--agent-token-file":
                    o.AgentTokenFile = v;
                    break;
                case "--agent-tls":
                    o.AgentTlsDirectory = v;
                    break;
                case "--plan-wait":
                    if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double wait) || wait <= 0 || wait > 86400)
                    {
                        errors.Add($"--plan-wait: '{v}' is not a number of seconds in (0, 86400]");
                    }
                    else
                    {
                        o.PlanWaitSeconds = wait;
                    }

                    break;
                case "--ha-state":
                    o.HaStateDirectory = v;
                    break;
                case "--agent-listen":
                    if (!System.Net.IPAddress.TryParse(v, out System.Net.IPAddress? listen))
                    {
                        errors.Add($"--agent-listen: '{v}' is not an IP address");
                    }
                    else
                    {
                        o.AgentListen = listen;
                    }

                    break;
                case "--image-trust":
                    o.ImageTrustFile = v;
                    break;
                case "--slots":
                    o.SlotsDirectory = v;
                    break;
                case "--boot-slot":
                    o.BootSlot = v;
                    break;
                case "--boot-health":
                    o.BootHealthFile = v;
                    break;
                case "--plan":
                    o.PlanPath = v;
                    o.Stage = StageKind.Policy;
                    break;
                case "--stage":
                    if (v == "flows")
                    {
                        o.Stage = StageKind.Flows;
                    }
                    else if (v == "forward")
                    {
                        o.Stage = StageKind.Forward;
                    }
                    else
                    {
                        errors.Add($"--stage: '{v}' is not 'flows' or 'forward'");
                    }

                    break;
                case "--idle-sleep-ms":
                    if (!int.TryParse(v, CultureInfo.InvariantCulture, out int sleep) || sleep < 0 || sleep > 100)
                    {
                        errors.Add($"--idle-sleep-ms: '{v}' is not a whole number in 0..100");
                    }
                    else
                    {
                        o.IdleSleepMs = sleep;
                    }

                    break;
                case "--flow-capacity":
                    if (!int.TryParse(v, CultureInfo.InvariantCulture, out int c) || c < 1 || c > 64_000_000)
                    {
                        errors.Add($"--flow-capacity: '{v}' is not a whole number in 1..64000000");
                    }
                    else
                    {
                        o.FlowCapacity = c;
                    }

                    break;
                case "--rate":
                    if (!long.TryParse(v, CultureInfo.InvariantCulture, out long r) || r < 0)
                    {
                        errors.Add($"--rate: '{v}' is not a whole number of packets per second ≥ 0");
                    }
                    else
                    {
                        o.RatePps = r;
                    }

                    break;
            }
        }

        if (o.AgentPort is not null && (o.AgentTokenFile is null) == (o.AgentTlsDirectory is null))
        {
            errors.Add("--agent needs exactly one of --agent-tls DIR (mutual TLS) or --agent-token-file FILE (every agent request is authenticated)");
        }

        if (o.AgentPort is not null && o.PlanPath is null)
        {
            // A managed card: the policy pipeline runs with no plan until the agent receives one.
            if (o.Stage != StageKind.Flows && o.Stage != StageKind.Policy)
            {
                errors.Add("--agent runs the policy pipeline; it does not combine with --stage forward");
            }

            o.Stage = StageKind.Policy;
        }

        if (o.PlanPath is not null && (stageGiven || o.Stage != StageKind.Policy))
        {
            errors.Add("--plan runs the policy pipeline; it does not combine with --stage");
        }

        if (o.ImageTrustFile is not null && o.AgentPort is null)
        {
            errors.Add("--image-trust needs --agent: images arrive through the agent");
        }

        if (o.HaStateDirectory is not null && o.AgentPort is null)
        {
            errors.Add("--ha-state needs --agent: the management plane pairs cards through their agents");
        }

        return o;
    }

    /// <summary>
    /// Replaces each <c>--config FILE</c> with the options its JSON object holds, ahead of the
    /// command line's own; an option the command line also gives is taken from the command line.
    /// </summary>
    public static List<string> ExpandConfig(IReadOnlyList<string> args, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(errors);
        var fromFiles = new List<string>();
        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] != "--config")
            {
                rest.Add(args[i]);
                continue;
            }

            if (i + 1 >= args.Count)
            {
                errors.Add("--config: needs a value");
                break;
            }

            string path = args[++i];
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(path));
                if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
                {
                    errors.Add($"--config {path}: must be a JSON object of option names and values");
                    continue;
                }

                foreach (System.Text.Json.JsonProperty p in doc.RootElement.EnumerateObject())
                {
                    if (p.Name is "config" or "slots" or "boot-slot" or "boot-health" || p.Name.StartsWith('-'))
                    {
                        errors.Add($"--config {path}: '{p.Name}' cannot be set from a config file");
                        continue;
                    }

                    // The command line wins: a file's option that is also given there is left out
                    // (the parser refuses an option given twice).
                    if (args.Contains("--" + p.Name))
                    {
                        continue;
                    }

                    fromFiles.Add("--" + p.Name);
                    fromFiles.Add(p.Value.ValueKind switch
                    {
                        System.Text.Json.JsonValueKind.String => p.Value.GetString()!,
                        System.Text.Json.JsonValueKind.Number => p.Value.GetRawText(),
                        _ => $"<{p.Value.ValueKind}>",
                    });
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
            {
                errors.Add($"--config {path}: {e.Message}");
            }
        }

        fromFiles.AddRange(rest);
        return fromFiles;
    }

    /// <summary>The board file to use: the one given, or the emulated board found upward from here.</summary>
    public string ResolveBoardPath()
    {
        if (BoardPath is not null)
        {
            return BoardPath;
        }

        const string relative = "boards/emulated/emulated.json";
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, relative);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return relative;
    }
}
