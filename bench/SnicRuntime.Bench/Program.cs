using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace SnicRuntime.Bench;

/// <summary>
/// Benchmarks. Run all: <c>dotnet run -c Release --project bench/SnicRuntime.Bench -- --filter '*'</c>.
/// In-process toolchain: the benchmarks run on the installed .NET 10 runtime without BenchmarkDotNet
/// generating and restoring a project per benchmark. MemoryDiagnoser proves 0 B per operation.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "flowtable-peer")
        {
            return FlowTablePeerRun.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "lpm-peer")
        {
            return LpmPeerRun.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "lpm6-peer")
        {
            return Lpm6PeerRun.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "acl-peer")
        {
            return AclPeerRun.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "io")
        {
            return IoRuns.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "ha")
        {
            return HaRuns.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "fleetha")
        {
            return FleetHaRuns.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "fleet")
        {
            return FleetRuns.Run(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] is "cps" or "fastpath")
        {
            return PipelineRuns.Run(args[0], args[1..]);
        }

        // --smoke: one cold iteration of every benchmark (CI proves they run; it measures nothing).
        bool smoke = args.Contains("--smoke");
        args = args.Where(a => a != "--smoke").ToArray();
        Job job = (smoke ? Job.Dry : Job.Default).WithToolchain(InProcessEmitToolchain.Instance);
        IConfig config = DefaultConfig.Instance
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return 0;
    }
}
