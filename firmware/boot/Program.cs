using Microsoft.Extensions.Logging;
using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Firmware.Boot;

/// <summary>
/// snic-firmware: loads the board, builds the dataplane, and (on the emulated board) runs it
/// against generated traffic, logging counters every second and stopping by itself.
/// Exit codes: 0 ok, 1 packets unaccounted for, 2 bad arguments or board file, 3 board not runnable.
/// </summary>
public static class Program
{
    /// <summary>
    /// Idle timeouts for the emulated-traffic demo. Generated connections live milliseconds and
    /// the generator opens tens of thousands a second, so DASH-scale timeouts (minutes) would only
    /// fill the tables within the demo; these let finished flows age out while it runs. A card
    /// takes its timeouts from configuration (the policy-pipeline issue).
    /// </summary>
    private static readonly Flows.AgingPolicy DemoAging = new()
    {
        TcpHandshakeMs = 2_000,
        TcpEstablishedMs = 10_000,
        TcpClosingMs = 500,
        UdpMs = 1_000,
        IcmpMs = 1_000,
        TickMs = 10,
    };

    /// <summary>When Main started (Stopwatch timestamp), for the start-to-first-packet figure.</summary>
    internal static long MainEntered { get; private set; }

    public static int Main(string[] args)
    {
        MainEntered = System.Diagnostics.Stopwatch.GetTimestamp();
        if (args.Length > 0 && args[0] == "boot")
        {
            return BootCommand.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "replay")
        {
            return ReplayCommand.Run(args[1..]);
        }

        FirmwareLifetime.Reset();
        var configErrors = new List<string>();
        List<string> expanded = FirmwareOptions.ExpandConfig(args, configErrors);
        FirmwareOptions options = FirmwareOptions.Parse(expanded, out List<string> errors);
        errors.InsertRange(0, configErrors);
        if (options.Help)
        {
            CommandLines.WriteHelp(FirmwareOptions.Command());
            return 0;
        }

        if (errors.Count > 0)
        {
            foreach (string e in errors)
            {
                Console.Error.WriteLine($"snic-firmware: {e}");
            }

            Console.Error.WriteLine("snic-firmware: the options are listed by snic-firmware --help");
            return 2;
        }

        using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            // A serial console (a QEMU card) looks like a terminal but keeps escape codes as text.
            if (Environment.GetEnvironmentVariable("NO_COLOR") is not null)
            {
                o.ColorBehavior = Microsoft.Extensions.Logging.Console.LoggerColorBehavior.Disabled;
            }
        }));
        ILogger log = loggers.CreateLogger("snic-firmware");

        string boardPath = options.ResolveBoardPath();
        BoardDefinition board;
        try
        {
            board = BoardLoader.Load(boardPath);
        }
        catch (BoardException e)
        {
            Console.Error.WriteLine($"snic-firmware: board file {e.File} is not usable:");
            foreach (string error in e.Errors)
            {
                Console.Error.WriteLine($"  {error}");
            }

            return 2;
        }

        try
        {
            BoardRequirements.Check(board, options.Workers ?? board.Cpu.DataplaneCores);
        }
        catch (BoardNotSupportedException e)
        {
            Console.Error.WriteLine($"snic-firmware: {e.Message}");
            return 3;
        }

        Pipeline.PolicyStore? policy = options.Stage == StageKind.Policy ? new Pipeline.PolicyStore(board.Ports.Count) : null;
        if (options.PlanPath is not null)
        {
            Pipeline.ApplyResult applied;
            try
            {
                applied = policy!.Apply(File.ReadAllText(options.PlanPath));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"snic-firmware: cannot read plan '{options.PlanPath}': {e.Message}");
                return 2;
            }

            if (!applied.Accepted)
            {
                Console.Error.WriteLine($"snic-firmware: plan '{options.PlanPath}' has {applied.Errors.Count} error(s); nothing applied:");
                foreach (SnicRuntime.Contracts.Plans.PlanError error in applied.Errors)
                {
                    Console.Error.WriteLine($"  {error}");
                }

                return 2;
            }

            log.LogInformation("plan {Plan}: generation {Generation} applied ({Enis} ENIs)", options.PlanPath, applied.Generation, policy.Current!.EniCount);
        }

        try
        {
            using Dataplane dataplane = Dataplane.Create(board, new DataplaneOptions
            {
                Workers = options.Workers,
                Stage = options.Stage,
                FlowsPerWorker = options.FlowCapacity,
                IdleSleepMs = options.IdleSleepMs,
                Aging = DemoAging,
                Policy = policy,
            });
            // HA: the card's pairing lives in its state directory; a restarted card rejoins.
            using Ha.HaHost? ha = options.HaStateDirectory is string haDir ? new Ha.HaHost(dataplane, policy!, haDir) : null;
            if (ha?.Restore() is string restored)
            {
                log.LogInformation("HA: {Restored}", restored);
            }

            // A port with a fabric at its far end (the shm driver) is told what this card serves.
            using Ha.CardAnnouncer? announcer = dataplane.Ports.Count > 0 && dataplane.Ports[0] is Hal.IAnnouncingPort announcing && policy is not null
                ? new Ha.CardAnnouncer(announcing, policy, () => ha?.Node)
                : null;
            announcer?.Start();

            // The agent starts beside the dataplane, not before it: Kestrel's start-up (~90 ms)
            // must not delay the first forwarded packet.
            Task<Agent.CardAgent>? agent = null;
            if (options.AgentPort is int agentPort)
            {
                string? token = null;
                SnicRuntime.Contracts.Agent.AgentTls? tls = null;
                try
                {
                    if (options.AgentTlsDirectory is string dir)
                    {
                        tls = new SnicRuntime.Contracts.Agent.AgentTls(SnicRuntime.Contracts.Agent.AgentCertificates.Load(Path.Combine(dir, "card.pem")), SnicRuntime.Contracts.Agent.AgentCertificates.Load(Path.Combine(dir, "ca.pem")));
                        if (!tls.Server.HasPrivateKey)
                        {
                            Console.Error.WriteLine($"snic-firmware: {Path.Combine(dir, "card.pem")} has no private key");
                            return 2;
                        }
                    }
                    else
                    {
                        token = File.ReadAllText(options.AgentTokenFile!).Trim();
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
                {
                    Console.Error.WriteLine($"snic-firmware: cannot load the agent's credentials: {e.Message}");
                    return 2;
                }

                if (tls is null && token!.Length < 16)
                {
                    Console.Error.WriteLine($"snic-firmware: the agent token in '{options.AgentTokenFile}' is shorter than 16 characters");
                    return 2;
                }

                Agent.FirmwareUpdates? updates = null;
                if (options.SlotsDirectory is string slots)
                {
                    try
                    {
                        updates = new Agent.FirmwareUpdates(new Update.SlotStore(Path.GetFullPath(slots), null), options.BootSlot ?? Update.SlotStore.Factory,
                            options.ImageTrustFile is string trust ? SnicRuntime.Contracts.Images.ImageKeys.LoadTrusted(trust) : [], board);
                    }
                    catch (SnicRuntime.Contracts.Images.ImageException e)
                    {
                        Console.Error.WriteLine($"snic-firmware: {e.Message}");
                        return 2;
                    }
                }

                agent = Task.Run(async () =>
                {
                    Agent.CardAgent started = await Agent.CardAgent.StartAsync(dataplane, policy!, token,
                        new System.Net.IPEndPoint(options.AgentListen, agentPort), loggers, tls: tls, ha: ha, firmware: updates).ConfigureAwait(false);
                    log.LogInformation("card agent listening on {Address}", started.Address);
                    return started;
                });
            }

            using var stopOnSignal = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true; // stop the workers and report, as at the end of --seconds
                FirmwareLifetime.RequestStop();
            });
            if (options.BootHealthFile is string healthFile)
            {
                _ = ReportHealthyAsync(dataplane, agent, healthFile, log);
            }

            try
            {
                bool ok;
                if (dataplane.Ports[0] is not Hal.Emulated.EmulatedPort)
                {
                    ok = PortRun.Run(dataplane, options.Seconds, log); // real ports: the wire brings the traffic
                }
                else
                {
                    ok = new EmulatedDemo(dataplane, options, log, policy).Run();
                }

                return !ok ? 1 : FirmwareLifetime.ExitCode;
            }
            finally
            {
                if (agent is not null)
                {
                    try
                    {
                        agent.GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult();
                    }
                    catch (IOException e)
                    {
                        // Kestrel could not bind (port in use): the dataplane ran; say why the agent did not.
                        log.LogError("card agent did not start: {Reason}", e.Message);
                    }
                }
            }
        }
        catch (BoardNotSupportedException e)
        {
            Console.Error.WriteLine($"snic-firmware: {e.Message}");
            return 3;
        }
    }

    /// <summary>
    /// Tells the boot supervisor this firmware is healthy: the workers run and the agent (if any)
    /// answers. A slot on trial that never gets here is rolled back.
    /// </summary>
    private static async Task ReportHealthyAsync(Dataplane dataplane, Task<Agent.CardAgent>? agent, string healthFile, ILogger log)
    {
        try
        {
            if (agent is not null)
            {
                // A managed card is healthy once its agent answers: its workers may rightly wait
                // for the first plan, which the management plane sends after the reboot.
                await agent.ConfigureAwait(false);
            }

            while (agent is null && !dataplane.Running)
            {
                if (FirmwareLifetime.Stopping.IsCancellationRequested)
                {
                    return;
                }

                await Task.Delay(10).ConfigureAwait(false);
            }

            await File.WriteAllTextAsync(healthFile, $"healthy {FirmwareIdentity()}\n").ConfigureAwait(false);
            log.LogInformation("reported healthy to the boot supervisor");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.LogError("cannot report healthy ({File}): {Reason}", healthFile, e.Message);
        }
        catch (Exception e)
        {
            log.LogError("not healthy: {Reason}", e.Message); // the agent did not start
        }
    }

    private static string FirmwareIdentity() => Agent.FirmwareIdentity.Version;
}
