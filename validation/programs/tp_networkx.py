"""Network analysis report with networkx.

Stands for a typical analytics script over a social / communication
network: an edge list (the kind exported from a database, one
``user_a user_b {'weight': w, 'kind': ...}`` line per edge) is generated
deterministically, parsed with ``networkx.parse_edgelist``, node attributes
are attached, and the script computes a report: connected components,
degree statistics, PageRank, approximate betweenness centrality (sampled
sources, fixed seed), clustering, k-cores, Dijkstra shortest paths from a
set of hub nodes, a minimum spanning tree of the largest component,
label-propagation communities and a directed "who-replies-to-whom" view
with strongly connected components.
"""

import hashlib
import random
import sys

import networkx as nx

SEED = 31337
N_USERS = 4000
N_EXTRA_EDGES = 7000


def generate_edge_lines(rng):
    """A clustered, heavy-tailed network written as edgelist text lines."""
    base = nx.powerlaw_cluster_graph(N_USERS, 3, 0.3, seed=rng.randrange(10 ** 6))
    lines = []
    for u, v in base.edges():
        lines.append("u%d u%d {'weight': %.3f, 'kind': '%s'}"
                     % (u, v, rng.uniform(0.1, 10.0), rng.choice(("friend", "follow", "work"))))
    # a few isolated cliques / small groups (separate components)
    for g in range(120):
        members = ["g%d_%d" % (g, i) for i in range(rng.randint(2, 7))]
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                lines.append("%s %s {'weight': %.3f, 'kind': 'group'}"
                             % (members[i], members[j], rng.uniform(0.1, 3.0)))
    for _ in range(N_EXTRA_EDGES // 10):
        u, v = rng.randrange(N_USERS), rng.randrange(N_USERS)
        if u != v:
            lines.append("u%d u%d {'weight': %.3f, 'kind': 'message'}"
                         % (u, v, rng.uniform(0.1, 10.0)))
    return lines


def pagerank(G, alpha=0.85, weight="weight", tol=1e-8, max_iter=200):
    """Weighted PageRank by power iteration on the networkx adjacency.

    nx.pagerank() needs numpy and scipy; this keeps the script pure Python.
    """
    nodes = list(G)
    n = len(nodes)
    rank = dict.fromkeys(nodes, 1.0 / n)
    out_w = {u: sum(d.get(weight, 1.0) for d in G[u].values()) for u in nodes}
    dangling = [u for u in nodes if out_w[u] == 0]
    for _ in range(max_iter):
        prev = rank
        rank = dict.fromkeys(nodes, (1.0 - alpha) / n)
        leak = alpha * sum(prev[u] for u in dangling) / n
        for u in nodes:
            if out_w[u] == 0:
                continue
            share = alpha * prev[u] / out_w[u]
            for v, d in G[u].items():
                rank[v] += share * d.get(weight, 1.0)
        for u in nodes:
            rank[u] += leak
        if sum(abs(rank[u] - prev[u]) for u in nodes) < n * tol:
            break
    return rank


def main():
    rng = random.Random(SEED)
    lines = generate_edge_lines(rng)
    G = nx.parse_edgelist(lines, nodetype=str, data=True)
    for n in G.nodes:
        G.nodes[n]["country"] = rng.choice(("DE", "FR", "US", "BR", "IN", "JP"))
        G.nodes[n]["joined"] = 2010 + rng.randrange(14)

    report = {}
    comps = sorted(nx.connected_components(G), key=len, reverse=True)
    report["components"] = [len(c) for c in comps[:5]] + [len(comps)]
    giant = G.subgraph(comps[0]).copy()

    degrees = sorted((d for _, d in G.degree()), reverse=True)
    report["degree"] = (degrees[0], degrees[len(degrees) // 2], sum(degrees) / len(degrees))

    pr = pagerank(G, alpha=0.85, weight="weight", tol=1e-6)
    report["pagerank_top"] = sorted(pr, key=lambda n: (-pr[n], n))[:10]

    bc = nx.betweenness_centrality(giant, k=8, seed=7, weight="weight")
    report["betweenness_top"] = sorted(bc, key=lambda n: (-bc[n], n))[:10]

    report["clustering"] = round(nx.average_clustering(giant), 6)
    report["transitivity"] = round(nx.transitivity(giant), 6)
    core = nx.core_number(giant)
    report["max_core"] = max(core.values())

    hubs = report["pagerank_top"][:6]
    dist_sums = []
    for h in hubs:
        if h in giant:
            lengths = nx.single_source_dijkstra_path_length(giant, h, weight="weight")
            dist_sums.append(round(sum(lengths.values()), 3))
    report["hub_distances"] = dist_sums

    mst = nx.minimum_spanning_tree(giant, weight="weight")
    report["mst_weight"] = round(mst.size(weight="weight"), 3)

    communities = list(nx.algorithms.community.label_propagation_communities(giant))
    report["communities"] = (len(communities), max(len(c) for c in communities))

    # directed reply graph: each edge points from the later to the earlier joiner
    D = nx.DiGraph()
    for u, v, data in G.edges(data=True):
        a, b = (u, v) if G.nodes[u]["joined"] >= G.nodes[v]["joined"] else (v, u)
        D.add_edge(a, b, weight=data["weight"])
        if data["kind"] == "message" or rng.random() < 0.15:
            D.add_edge(b, a, weight=data["weight"])
    sccs = sorted((len(c) for c in nx.strongly_connected_components(D)), reverse=True)
    report["scc"] = (sccs[0], len(sccs))
    report["dag_longest"] = nx.dag_longest_path_length(nx.condensation(D))

    text = repr(sorted(report.items()))
    print("nodes=%d edges=%d components=%d giant=%d communities=%d"
          % (G.number_of_nodes(), G.number_of_edges(), len(comps), len(comps[0]),
             report["communities"][0]))
    print("checksum", hashlib.sha1(text.encode()).hexdigest()[:16])
    return 0


if __name__ == "__main__":
    sys.exit(main())
