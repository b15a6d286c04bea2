using System.Reflection;
using System.Reflection.Emit;

namespace OtaServer.Tests.Architecture;

/// <summary>
/// The host's feature folders (namespaces <c>OtaServer.&lt;Folder&gt;</c>, one per folder) depend on each other in one
/// direction only: HTTP endpoint → feature service → repository/store. A folder depends on another when its compiled
/// code uses a type declared there: in a signature, a base type, a field, a generic argument, or an instruction of a
/// method body (calls, constructions, casts, field reads). Program (the composition root) is left out.
/// </summary>
public sealed class FeatureFolderDependencyTests
{
    [Fact]
    public void FeatureFolders_FormNoDependencyCycle()
    {
        var graph = FolderGraph.Of(typeof(Program).Assembly);
        var cycles = graph.Cycles();
        Assert.True(cycles.Count == 0, "Feature folders depend on each other in a cycle:\n" +
            string.Join("\n", cycles.Select(graph.Explain)));
    }

    [Fact]
    public void TheScan_SeesKnownDependencies_ThroughSignaturesAndMethodBodies()
    {
        var graph = FolderGraph.Of(typeof(Program).Assembly);
        Assert.True(graph.Folders.Count >= 10, "folders found: " + string.Join(", ", graph.Folders));
        Assert.Contains("Repositories", graph.DependenciesOf("Ingest"));  // RefUpdater takes a Repository
        Assert.Contains("Targets", graph.DependenciesOf("Deltas"));       // DeltaPlanner reads the TargetCatalog (a constructor parameter)
        Assert.Contains("Store", graph.DependenciesOf("Jobs"));           // JobQueue calls IJobStore (method bodies)
        Assert.DoesNotContain("Ingest", graph.DependenciesOf("Repositories"));
    }

    [Fact]
    public void CycleDetection_FindsEachGroupOfFoldersThatReachEachOther()
    {
        var graph = new FolderGraph();
        graph.Add("A", "B", "A.X uses B.Y");
        graph.Add("B", "C", "B.Y uses C.Z");
        graph.Add("C", "A", "C.Z uses A.X");
        graph.Add("C", "D", "C.Z uses D.W");
        graph.Add("E", "D", "E.V uses D.W");
        var cycle = Assert.Single(graph.Cycles());
        Assert.Equal(["A", "B", "C"], cycle);
        Assert.Contains("C → A (C.Z uses A.X)", graph.Explain(cycle));
    }

    internal sealed class FolderGraph
    {
        private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

        private readonly SortedDictionary<string, SortedDictionary<string, string>> _edges = new(StringComparer.Ordinal);

        public IReadOnlyList<string> Folders => _edges.Keys.ToList();

        public IEnumerable<string> DependenciesOf(string folder) => _edges.TryGetValue(folder, out var e) ? e.Keys : [];

        public void Add(string from, string to, string example)
        {
            if (!_edges.TryGetValue(from, out var edges))
                _edges[from] = edges = new SortedDictionary<string, string>(StringComparer.Ordinal);
            _edges.TryAdd(to, new SortedDictionary<string, string>(StringComparer.Ordinal));
            if (from != to)
                edges.TryAdd(to, example);
        }

        public static FolderGraph Of(Assembly assembly)
        {
            var graph = new FolderGraph();
            var root = assembly.GetName().Name!;
            foreach (var type in assembly.GetTypes())
            {
                if (FolderOf(type, root) is not { } folder)
                    continue;
                foreach (var used in UsedTypes(type))
                {
                    if (used.Assembly == assembly && FolderOf(used, root) is { } other)
                        graph.Add(folder, other, $"{Outermost(type).Name} uses {Outermost(used).Name}");
                }
            }
            return graph;
        }

        private static Type Outermost(Type type)
        {
            while (type.DeclaringType is { } outer)
                type = outer;
            return type;
        }

        /// <summary>"OtaServer.Jobs.X" → "Jobs"; null for the composition root and generated code outside the folders.</summary>
        private static string? FolderOf(Type type, string root)
        {
            var ns = Outermost(type).Namespace;
            if (ns is null || !ns.StartsWith(root + ".", StringComparison.Ordinal))
                return null;
            var rest = ns[(root.Length + 1)..];
            var dot = rest.IndexOf('.');
            return dot < 0 ? rest : rest[..dot];
        }

        private static IEnumerable<Type> UsedTypes(Type type)
        {
            var found = new HashSet<Type>();
            void Note(Type? t)
            {
                if (t is null || t.IsGenericParameter || !found.Add(t))
                    return;
                if (t.HasElementType)
                    Note(t.GetElementType());
                if (t.IsGenericType)
                {
                    Note(t.GetGenericTypeDefinition());
                    foreach (var a in t.GetGenericArguments())
                        Note(a);
                }
            }
            Note(type.BaseType);
            foreach (var i in type.GetInterfaces())
                Note(i);
            foreach (var a in type.GetCustomAttributesData())
                Note(a.AttributeType);
            foreach (var f in type.GetFields(All))
                Note(f.FieldType);
            foreach (var p in type.GetProperties(All))
                Note(p.PropertyType);
            foreach (var m in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
            {
                if (m is MethodInfo mi)
                    Note(mi.ReturnType);
                foreach (var p in m.GetParameters())
                    Note(p.ParameterType);
                foreach (var t in TypesInBody(m))
                    Note(t);
            }
            return found;
        }

        /// <summary>Types named by the operands of a method body's instructions.</summary>
        private static IEnumerable<Type> TypesInBody(MethodBase method)
        {
            var il = method.GetMethodBody()?.GetILAsByteArray();
            if (il is null)
                yield break;
            var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
            var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
            var i = 0;
            while (i < il.Length)
            {
                short value = il[i++];
                if (value == 0xFE)
                    value = (short)(0xFE00 | il[i++]);
                if (!OpCodesByValue.TryGetValue(value, out var op))
                    yield break; // not a known instruction: stop rather than misread
                var size = op.OperandType switch
                {
                    OperandType.InlineNone => 0,
                    OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                    OperandType.InlineVar => 2,
                    OperandType.InlineI8 or OperandType.InlineR => 8,
                    OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                    _ => 4,
                };
                if (op.OperandType is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)
                {
                    MemberInfo? member = null;
                    try
                    {
                        member = method.Module.ResolveMember(BitConverter.ToInt32(il, i), typeArgs, methodArgs);
                    }
                    catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException)
                    {
                    }
                    switch (member)
                    {
                        case Type t:
                            yield return t;
                            break;
                        case FieldInfo f:
                            yield return f.DeclaringType!;
                            yield return f.FieldType;
                            break;
                        case MethodBase m:
                            yield return m.DeclaringType!;
                            if (m is MethodInfo mi)
                                yield return mi.ReturnType;
                            foreach (var p in m.GetParameters())
                                yield return p.ParameterType;
                            break;
                    }
                }
                i += size;
            }
        }

        /// <summary>Groups of two or more folders that reach each other (strongly connected components, Tarjan), each sorted.</summary>
        public IReadOnlyList<IReadOnlyList<string>> Cycles()
        {
            var index = new Dictionary<string, int>();
            var low = new Dictionary<string, int>();
            var stack = new Stack<string>();
            var result = new List<IReadOnlyList<string>>();
            foreach (var v in _edges.Keys)
            {
                if (!index.ContainsKey(v))
                    Visit(v);
            }

            return result;

            void Visit(string v)
            {
                index[v] = low[v] = index.Count;
                stack.Push(v);
                foreach (var w in _edges[v].Keys)
                {
                    if (!index.ContainsKey(w))
                    {
                        Visit(w);
                        low[v] = Math.Min(low[v], low[w]);
                    }
                    else if (stack.Contains(w))
                    {
                        low[v] = Math.Min(low[v], index[w]);
                    }
                }
                if (low[v] != index[v])
                    return;
                var members = new List<string>();
                string x;
                do
                {
                    x = stack.Pop();
                    members.Add(x);
                } while (x != v);
                if (members.Count > 1)
                    result.Add(members.Order(StringComparer.Ordinal).ToList());
            }
        }

        public string Explain(IReadOnlyList<string> cycle) =>
            "  {" + string.Join(", ", cycle) + "}: " + string.Join("; ", cycle.SelectMany(a =>
                _edges[a].Where(e => cycle.Contains(e.Key)).Select(e => $"{a} → {e.Key} ({e.Value})")));
    }
}
